OK_FORMAT = True

test = {   'name': 'nll_prediction',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert predicted_bits_per_dim is not ..., 'predicted_bits_per_dim is ...: not done yet (commit your prediction)'\n"
                                               ">>> assert type(predicted_bits_per_dim) in (int, float), f'predicted_bits_per_dim should be a Python number (float(...) or .item()), got "
                                               "{type(predicted_bits_per_dim).__name__}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
