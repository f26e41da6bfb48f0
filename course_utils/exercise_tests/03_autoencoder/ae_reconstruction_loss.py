OK_FORMAT = True

test = {   'name': 'ae_reconstruction_loss',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> logits, x = (torch.tensor([[0.0, 2.0, -1.0], [1.0, -3.0, 0.5]]), torch.tensor([[0.0, 1.0, 0.3], [1.0, 0.0, 0.5]]))\n'
                                               '>>> expected = -(x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits))).sum(1).mean()\n'
                                               ">>> check_close(reconstruction_loss(logits, x), expected, 'reconstruction_loss on 2 images of 3 pixels')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
