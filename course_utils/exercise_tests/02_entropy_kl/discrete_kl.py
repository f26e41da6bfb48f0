OK_FORMAT = True

test = {   'name': 'discrete_kl',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> from torch.distributions import Categorical, kl_divergence\n'
                                               '>>> p, q = (torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.2, 0.3, 0.5]))\n'
                                               ">>> check_close(discrete_kl(p, q), kl_divergence(Categorical(probs=p), Categorical(probs=q)), 'discrete_kl(p, q)')\n"
                                               ">>> check_close(discrete_kl(p, p), 0.0, 'KL of a distribution to itself')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
