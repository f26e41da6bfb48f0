OK_FORMAT = True

test = {   'name': 'elbo_gap',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils import linear_gaussian\n'
                                               '>>> from course_utils.grading import check_close\n'
                                               '>>> x, w, b, noise_var = (torch.tensor([1.5, 0.3]), torch.tensor([2.0, 1.0]), torch.tensor([0.5, -0.5]), 0.1)\n'
                                               '>>> model = linear_gaussian.LinearGaussian(w[:, None], b, noise_var)\n'
                                               '>>> mu, logvar = (torch.tensor([0.3, 0.55, 0.0]), torch.tensor([-2.0, -4.0, 0.0]))\n'
                                               ">>> check_close(elbo_gap(x, w, b, noise_var, mu, logvar), linear_gaussian.kl_to_posterior(model, x, mu[:, None], logvar[:, None]), 'elbo_gap against "
                                               "KL(q || p(z | x))', rtol=0.0001, atol=0.0001)\n"
                                               '>>> m, s2 = toy_posterior(x, w, b, noise_var)\n'
                                               ">>> check_close(elbo_gap(x, w, b, noise_var, m, torch.log(s2)), 0.0, 'the gap at your posterior (should be 0: recheck the completed square)', "
                                               'atol=0.0001)\n',
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
