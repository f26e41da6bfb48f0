OK_FORMAT = True

test = {   'name': 'smoothing_experiment',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert prediction is not ..., 'prediction is ...: not done yet (replace the `...`)'\n"
                                               '>>> assert prediction in (\'finite\', \'-inf\'), f"prediction should be \'finite\' or \'-inf\', got {prediction!r}"\n'
                                               ">>> assert held_out is not ... and best_smoothing is not ..., 'held_out or best_smoothing is ...: not done yet (replace the `...`)'\n"
                                               ">>> assert len(held_out) == len(SMOOTHINGS), f'held_out needs one mean per smoothing ({len(SMOOTHINGS)}), got {len(held_out)}'\n"
                                               ">>> assert best_smoothing in SMOOTHINGS, f'best_smoothing should be one of {SMOOTHINGS}, got {best_smoothing!r}'\n"
                                               ">>> assert best_smoothing == SMOOTHINGS[max(range(len(SMOOTHINGS)), key=lambda i: held_out[i])], 'best_smoothing is not the smoothing with the largest "
                                               "held-out mean in your held_out'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
