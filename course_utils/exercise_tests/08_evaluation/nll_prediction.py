OK_FORMAT = True

test = {   'name': 'nll_prediction',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert predicted_bits_per_dim is not ..., 'predicted_bits_per_dim is ...: not done yet (commit your prediction)'\n"
                                               ">>> assert isinstance(predicted_bits_per_dim, (int, float)) and (not isinstance(predicted_bits_per_dim, bool)), f'predicted_bits_per_dim should be a "
                                               "number, got {type(predicted_bits_per_dim).__name__}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
