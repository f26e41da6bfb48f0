OK_FORMAT = True

test = {   'name': 'kl_normal_1d',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> from torch.distributions import Normal, kl_divergence\n'
                                               '>>> mu, sigma = (torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 0.5, 2.0]))\n'
                                               ">>> check_close(kl_normal_1d(mu, sigma), kl_divergence(Normal(mu, sigma), Normal(0.0, 1.0)), 'kl_normal_1d(mu, sigma)')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
