OK_FORMAT = True

test = {   'name': 'bernoulli_mle',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> x = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])\n'
                                               ">>> check_close(bernoulli_mle(x), torch.tensor([1.0, 0.25, 0.25]), 'bernoulli_mle(x) without smoothing')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
