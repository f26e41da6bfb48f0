OK_FORMAT = True

test = {   'name': 'kl_diag_standard',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> from torch.distributions import Independent, Normal, kl_divergence\n'
                                               '>>> mu, logvar = (torch.tensor([[0.0, 1.0], [0.5, -1.0]]), torch.tensor([[0.0, 0.0], [-2.0, 1.0]]))\n'
                                               '>>> q, p = (Independent(Normal(mu, (0.5 * logvar).exp()), 1), Independent(Normal(torch.zeros(2), torch.ones(2)), 1))\n'
                                               ">>> check_close(kl_diag_standard(mu, logvar), kl_divergence(q, p), 'kl_diag_standard(mu, logvar)')\n"
                                               '>>> assert right_formula in (\'course\', \'slide\'), f"right_formula should be \'course\' or \'slide\', got {right_formula!r}: not done yet?"\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
