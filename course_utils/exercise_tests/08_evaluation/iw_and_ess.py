OK_FORMAT = True

test = {   'name': 'iw_and_ess',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import math\n'
                                               '>>> from course_utils.grading import check_close\n'
                                               '>>> got = iw_and_ess(torch.tensor([[0.0], [math.log(3.0)]], dtype=torch.float64))\n'
                                               ">>> assert got is not None, 'iw_and_ess returned None: replace the ... with your code'\n"
                                               '>>> estimate, ess = got\n'
                                               ">>> check_close(estimate, torch.tensor([math.log(2.0)], dtype=torch.float64), 'the estimate for the weights 1 and 3 (log 2)')\n"
                                               ">>> check_close(ess, torch.tensor([1.6], dtype=torch.float64), 'the ESS for the weights 1 and 3 (16 / 10)')\n"
                                               '>>> estimate, ess = iw_and_ess(torch.full((4, 2), -1000.0, dtype=torch.float64))\n'
                                               ">>> check_close(estimate, torch.tensor([-1000.0, -1000.0], dtype=torch.float64), 'the estimate for four equal weights e^-1000')\n"
                                               ">>> check_close(ess, torch.tensor([4.0, 4.0], dtype=torch.float64), 'the ESS of four equal weights (should be k = 4)')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
