OK_FORMAT = True

test = {   'name': 'kl_direction',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert prediction is not ... and between is not ..., 'prediction or between is ...: not done yet (replace the `...`)'\n"
                                               '>>> assert prediction in (\'forward\', \'reverse\'), f"prediction should be \'forward\' or \'reverse\', got {prediction!r}"\n'
                                               ">>> assert forward is not ... and reverse is not ..., 'forward or reverse is ...: not done yet (replace the `...`)'\n"
                                               ">>> assert tuple(forward.shape) == (41,) and tuple(reverse.shape) == (41,), 'forward and reverse should each hold 41 values, one per row of Q'\n"
                                               ">>> assert isinstance(best_forward, int) and isinstance(best_reverse, int), 'best_forward and best_reverse should be Python ints (int(...))'\n"
                                               ">>> assert forward[best_forward] == forward.min() and reverse[best_reverse] == reverse.min(), 'best_forward / best_reverse should minimize forward / "
                                               "reverse'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
