OK_FORMAT = True

test = {   'name': 'reparameterize_trick',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> _ = torch.manual_seed(0)\n'
                                               '>>> mu, logvar = (torch.tensor([0.5, -1.0, 2.0], requires_grad=True), torch.tensor([-1.0, 0.0, 1.0], requires_grad=True))\n'
                                               '>>> z = reparameterize(mu, logvar)\n'
                                               ">>> assert z is not None, 'reparameterize returned None: replace the ... with your code'\n"
                                               ">>> assert z.shape == mu.shape, f'z has shape {tuple(z.shape)}, expected the shape of mu {tuple(mu.shape)}'\n"
                                               ">>> assert z.requires_grad, 'z does not depend on mu and logvar in a way autograd can follow'\n"
                                               '>>> grad_mu, grad_logvar = torch.autograd.grad(z.sum(), (mu, logvar))\n'
                                               ">>> check_close(grad_mu, torch.ones(3), 'dz/dmu')\n"
                                               ">>> check_close(grad_logvar, 0.5 * (z - mu).detach(), 'dz/dlogvar (should be sigma * eps / 2)')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
