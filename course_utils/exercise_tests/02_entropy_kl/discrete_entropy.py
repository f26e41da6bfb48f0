OK_FORMAT = True

test = {   'name': 'discrete_entropy',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import math\n'
                                               '>>> from course_utils.grading import check_close\n'
                                               '>>> from torch.distributions import Categorical\n'
                                               ">>> check_close(discrete_entropy(torch.tensor([0.5, 0.5])), math.log(2), 'entropy of a fair coin')\n"
                                               '>>> p = torch.tensor([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]])\n'
                                               ">>> check_close(discrete_entropy(p), Categorical(probs=p).entropy(), 'discrete_entropy on a (2, 3) batch')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
