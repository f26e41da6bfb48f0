OK_FORMAT = True

test = {   'name': 'active_units_prediction',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert predicted_active is not ..., 'predicted_active is ...: not done yet (commit your prediction)'\n"
                                               ">>> assert type(predicted_active) is int, f'predicted_active should be a Python int (a count of dimensions), got {type(predicted_active).__name__}'\n"
                                               ">>> assert 0 <= predicted_active <= 50, f'predicted_active = {predicted_active}: a count of the 50 dimensions'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
