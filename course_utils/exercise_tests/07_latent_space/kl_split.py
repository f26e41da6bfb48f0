OK_FORMAT = True

test = {   'name': 'kl_split',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import math\n'
                                               '>>> from course_utils.grading import check_close\n'
                                               '>>> mu, logvar = (torch.tensor([[0.0, 1.0], [2.0, 1.0]]), torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]]))\n'
                                               '>>> got = kl_split(mu, logvar)\n'
                                               ">>> assert got is not None, 'kl_split returned None: replace the ... with your code'\n"
                                               '>>> spread, offset, width = got\n'
                                               ">>> check_close(spread, torch.tensor([0.5, 0.0]), 'spread (half the biased variance of the means, per dimension)')\n"
                                               ">>> check_close(offset, torch.tensor([0.5, 0.5]), 'offset (half the squared average mean, per dimension)')\n"
                                               ">>> check_close(width, torch.tensor([0.0, 0.25 * (1 - math.log(2.0))]), 'width (per dimension)')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
