OK_FORMAT = True

test = {   'name': 'midpoint_prediction',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert predicted_ratio is not ..., 'predicted_ratio is ...: not done yet (commit your prediction)'\n"
                                               ">>> assert isinstance(predicted_ratio, (int, float)) and (not isinstance(predicted_ratio, bool)), f'predicted_ratio should be a number, got "
                                               "{type(predicted_ratio).__name__}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
