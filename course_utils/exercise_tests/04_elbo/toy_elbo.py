OK_FORMAT = True

test = {   'name': 'toy_elbo',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> import math\n'
                                               '>>> from course_utils import linear_gaussian\n'
                                               '>>> from course_utils.grading import check_close\n'
                                               '>>> x, w, b, noise_var = (torch.tensor([1.5, 0.3]), torch.tensor([2.0, 1.0]), torch.tensor([0.5, -0.5]), 0.1)\n'
                                               '>>> model = linear_gaussian.LinearGaussian(w[:, None], b, noise_var)\n'
                                               '>>> mu, logvar = (torch.tensor([0.3, 0.55, 0.0]), torch.tensor([-2.0, -4.0, 0.0]))\n'
                                               ">>> check_close(toy_elbo(x, w, b, noise_var, mu, logvar), linear_gaussian.elbo(model, x, mu[:, None], logvar[:, None]), 'toy_elbo for three q')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
