OK_FORMAT = True

test = {   'name': 'nll_measured',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert nll_bits_per_dim is not ... and median_ess is not ..., 'nll_bits_per_dim or median_ess is ...: not done yet'\n"
                                               ">>> assert type(nll_bits_per_dim) is float and type(median_ess) is float, 'store both as Python floats (.item())'\n"
                                               ">>> assert 1.0 <= median_ess <= K, f'median_ess = {median_ess}: an ESS lies between 1 and k = {K}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
