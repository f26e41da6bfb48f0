OK_FORMAT = True

test = {   'name': 'slope_prediction',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert predicted_slope is not ..., 'predicted_slope is ...: not done yet (commit your prediction)'\n"
                                               ">>> assert type(predicted_slope) in (int, float), f'predicted_slope should be a Python number (float(...) or .item()), got "
                                               "{type(predicted_slope).__name__}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
