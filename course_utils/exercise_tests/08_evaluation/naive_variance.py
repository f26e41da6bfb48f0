OK_FORMAT = True

test = {   'name': 'naive_variance',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert prediction is not ... and growth is not ..., 'prediction or growth is ...: not done yet (replace the `...`)'\n"
                                               ">>> words = ('linear', 'quadratic', 'exponential')\n"
                                               ">>> assert prediction in words and growth in words, f'prediction and growth should each be one of {words}'\n"
                                               ">>> assert relative_variance is not ..., 'relative_variance is ...: not done yet (replace the `...`)'\n"
                                               ">>> assert len(relative_variance) == len(DIMS), f'relative_variance needs one value per d in DIMS, got {len(relative_variance)}'\n"
                                               ">>> assert isinstance(samples_needed, int), f'samples_needed should be a Python int, got {type(samples_needed).__name__}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
