OK_FORMAT = True

test = {   'name': 'bernoulli_log_likelihood',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> from torch.distributions import Bernoulli, Independent\n'
                                               '>>> probs, x = (torch.tensor([0.9, 0.2, 0.5]), torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]]))\n'
                                               ">>> check_close(bernoulli_log_likelihood(probs, x), Independent(Bernoulli(probs=probs), 1).log_prob(x), 'bernoulli_log_likelihood(probs, x)')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
