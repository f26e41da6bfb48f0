OK_FORMAT = True

test = {   'name': 'bayes_classifier',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> x, class_probs = (torch.tensor([[1.0, 1.0], [0.0, 1.0]]), torch.tensor([[0.8, 0.6], [0.1, 0.5]]))\n'
                                               '>>> log_prior = torch.tensor([0.25, 0.75]).log()\n'
                                               '>>> joint = torch.tensor([[0.25 * 0.8 * 0.6, 0.75 * 0.1 * 0.5], [0.25 * 0.2 * 0.6, 0.75 * 0.9 * 0.5]])\n'
                                               ">>> check_close(bayes_classifier(class_probs, log_prior, x), joint / joint.sum(dim=1, keepdim=True), 'bayes_classifier(class_probs, log_prior, x) on "
                                               "two 2-pixel images')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
