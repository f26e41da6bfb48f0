OK_FORMAT = True

test = {   'name': 'beta_optimal_posterior',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> got = optimal_q(2.0, 1.5, 0.5, 1.0)\n'
                                               ">>> assert got is not None, 'optimal_q returned None: replace the ... with your code'\n"
                                               '>>> check_close(list(got), [1.2, 0.1], "(m_star, v_star) at beta = 1 (should be the exact posterior\'s mean and variance)")\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
