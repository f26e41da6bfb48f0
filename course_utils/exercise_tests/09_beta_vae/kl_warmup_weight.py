OK_FORMAT = True

test = {   'name': 'kl_warmup_weight',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               ">>> check_close(kl_weight(25, 2.0, 100), 0.5, 'kl_weight(25, beta=2.0, warmup_steps=100) (a quarter of the way up)')\n"
                                               ">>> check_close(kl_weight(0, 3.0, 0), 3.0, 'kl_weight(0, beta=3.0, warmup_steps=0) (no warm-up: beta from the start)')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
