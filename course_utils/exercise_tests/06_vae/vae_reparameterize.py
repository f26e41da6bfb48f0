OK_FORMAT = True

test = {   'name': 'vae_reparameterize',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> from course_utils.gradients import reparameterize as reference\n'
                                               '>>> mu, logvar = (torch.tensor([[0.0, 1.0, -2.0], [3.0, 0.5, 0.0]]), torch.tensor([[0.0, -1.0, 2.0], [1.0, 0.0, -3.0]]))\n'
                                               '>>> check_close(reparameterize(mu, logvar, torch.Generator().manual_seed(0)), reference(mu, logvar, torch.Generator().manual_seed(0)), '
                                               "'reparameterize(mu, logvar, generator) with a seeded generator')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
