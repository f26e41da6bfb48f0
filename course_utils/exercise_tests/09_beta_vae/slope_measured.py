OK_FORMAT = True

test = {   'name': 'slope_measured',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import math\n'
                                               '>>> from course_utils.grading import check_close\n'
                                               '>>> got = scaled_rate_distortion(lambda z: torch.zeros(*z.shape[:-1], 3), torch.tensor([[1.0, 0.0, 0.5]]), torch.tensor([[1.0, 0.0]]), '
                                               'torch.tensor([[0.0, math.log(2.0)]]), 2.0, torch.ones(4, 1, 2))\n'
                                               ">>> assert got is not None, 'scaled_rate_distortion returned None: replace the ... with your code'\n"
                                               ">>> check_close(list(got), [0.5 * (2 - math.log(2.0)) + 0.5 * (3 - math.log(4.0)), 3 * math.log(2.0)], '(R, D) of q_c with c = 2 and a decoder that "
                                               "gives every pixel probability 1/2')\n"
                                               ">>> assert measured_slope is not ..., 'measured_slope is ...: not done yet (replace the `...`)'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
