OK_FORMAT = True

test = {   'name': 'auroc',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> got = auroc([3.0, 2.0, 2.0], [2.0, 1.0])\n'
                                               ">>> assert got is not None, 'auroc returned None: replace the ... with your code'\n"
                                               ">>> check_close(float(got), 5 / 6, 'auroc([3, 2, 2], [2, 1]) (4 pairs won, 2 tied, of 6)')\n"
                                               ">>> check_close(float(auroc(torch.tensor([5.0, 6.0]), torch.tensor([1.0, 2.0, 3.0]))), 1.0, 'auroc of separated scores')\n"
                                               ">>> check_close(float(auroc(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([5.0, 6.0]))), 0.0, 'auroc of reversed scores')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
