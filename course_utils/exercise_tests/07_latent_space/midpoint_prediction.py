OK_FORMAT = True

test = {   'name': 'midpoint_prediction',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert predicted_ratio is not ..., 'predicted_ratio is ...: not done yet (commit your prediction)'\n"
                                               ">>> assert type(predicted_ratio) in (int, float), f'predicted_ratio should be a Python number (float(...) or .item()), got "
                                               "{type(predicted_ratio).__name__}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
