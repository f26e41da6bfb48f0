OK_FORMAT = True

test = {   'name': 'constant_decoder',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> x = torch.tensor([[1.0, 0.0, 0.5], [1.0, 1.0, 0.1], [0.0, 1.0, 0.3], [1.0, 1.0, 0.5]])\n'
                                               ">>> check_close(best_constant_logits(x), torch.tensor([0.75, 0.75, 0.35]).logit(), 'best_constant_logits on 4 images of 3 pixels')\n"
                                               ">>> assert predicted_floor is not ..., 'predicted_floor is ...: not done yet (replace the `...`)'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
