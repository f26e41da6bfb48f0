OK_FORMAT = True

test = {   'name': 'variance_growth',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert prediction is not ... and growth is not ..., 'prediction or growth is ...: not done yet (replace the `...`)'\n"
                                               ">>> words = ('constant', 'linear', 'quadratic', 'exponential')\n"
                                               ">>> assert prediction in words and growth in words, f'prediction and growth should each be one of {words}'\n"
                                               ">>> assert set(score_variance) == {1, 10, 100} == set(pathwise_variance), 'measure d = 1, 10 and 100: not done yet?'\n"
                                               ">>> assert all((isinstance(v, float) for v in [*score_variance.values(), *pathwise_variance.values()])), 'store the variances as Python floats "
                                               "(.item())'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
