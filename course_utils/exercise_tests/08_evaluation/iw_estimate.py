OK_FORMAT = True

test = {   'name': 'iw_estimate',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> import math\n'
                                               '>>> from course_utils import linear_gaussian\n'
                                               '>>> from course_utils.grading import check_close\n'
                                               '>>> g = torch.Generator().manual_seed(0)\n'
                                               '>>> q_, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))\n'
                                               '>>> toy = linear_gaussian.LinearGaussian(q_[:, :2] * torch.tensor([2.0, 0.7], dtype=torch.float64), torch.zeros(6, dtype=torch.float64), 0.5)\n'
                                               '>>> x, _ = linear_gaussian.sample(toy, 4, generator=g)\n'
                                               '>>> mean, cov = linear_gaussian.posterior(toy, x)\n'
                                               '>>> log_joint = lambda z: linear_gaussian.log_likelihood(toy, x, z) - 0.5 * (z.pow(2).sum(-1) + z.shape[-1] * math.log(2 * math.pi))\n'
                                               ">>> check_close(iw_estimate(log_joint, mean, cov.diagonal().log().expand_as(mean), 5), linear_gaussian.log_marginal(toy, x), 'iw_estimate with the "
                                               "exact posterior as q (must equal log p(x))', rtol=0, atol=1e-08)\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
