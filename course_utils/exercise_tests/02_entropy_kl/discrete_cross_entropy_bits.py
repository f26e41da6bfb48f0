OK_FORMAT = True

test = {   'name': 'discrete_cross_entropy_bits',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import math\n'
                                               '>>> from course_utils.grading import check_close\n'
                                               '>>> p, q = (torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.2, 0.3, 0.5]))\n'
                                               ">>> check_close(discrete_cross_entropy(p, q), -(p * q.log()).sum(), 'discrete_cross_entropy(p, q) in nats')\n"
                                               ">>> check_close(discrete_cross_entropy(torch.full((8,), 1 / 8), torch.full((8,), 1 / 8), unit='bits'), 3.0, 'cross-entropy of a fair 8-sided die with "
                                               "itself, in bits')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
