OK_FORMAT = True

test = {   'name': 'slope_prediction',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert predicted_slope is not ..., 'predicted_slope is ...: not done yet (commit your prediction)'\n"
                                               ">>> assert isinstance(predicted_slope, (int, float)) and (not isinstance(predicted_slope, bool)), f'predicted_slope should be a number, got "
                                               "{type(predicted_slope).__name__}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
