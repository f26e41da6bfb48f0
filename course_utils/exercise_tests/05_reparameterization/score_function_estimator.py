OK_FORMAT = True

test = {   'name': 'score_function_estimator',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> from torch.distributions import Normal\n'
                                               '>>> from course_utils.grading import check_close\n'
                                               '>>> g = torch.Generator().manual_seed(2)\n'
                                               '>>> mu, logvar, eps = (torch.tensor([0.5, -1.0]), torch.tensor([-1.0, 0.5]), torch.randn(8, 2, generator=g))\n'
                                               '>>> f = lambda z: (z - 1).pow(2).sum(-1)\n'
                                               '>>> mu_, logvar_ = (mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True))\n'
                                               '>>> z = (mu + torch.exp(0.5 * logvar) * eps).detach()\n'
                                               '>>> expected = torch.autograd.grad((f(z) * Normal(mu_, torch.exp(0.5 * logvar_)).log_prob(z).sum(-1)).mean(), (mu_, logvar_))\n'
                                               '>>> got = score_function_estimator(f, mu, logvar, eps)\n'
                                               ">>> assert isinstance(got, tuple) and len(got) == 2, 'return a tuple (grad_mu, grad_logvar)'\n"
                                               ">>> check_close(got[0], expected[0], 'grad_mu on 8 samples')\n"
                                               ">>> check_close(got[1], expected[1], 'grad_logvar on 8 samples')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
