OK_FORMAT = True

test = {   'name': 'rate_distortion_curve',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import math\n'
                                               '>>> from course_utils.grading import check_close\n'
                                               '>>> got = rate_distortion(2.0, 1.5, 0.5, 1.0)\n'
                                               ">>> assert got is not None, 'rate_distortion returned None: replace the ... with your code'\n"
                                               ">>> check_close(list(got), [0.5 * (0.54 - math.log(0.1)), 0.5 * math.log(0.5 * math.pi) + 0.53], '(R, D) at x = 2, w = 1.5, s = 0.5, beta = 1 (q is "
                                               "the exact posterior N(1.2, 0.1))')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
