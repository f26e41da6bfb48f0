OK_FORMAT = True

test = {   'name': 'lowest_auroc_prediction',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': ">>> assert predicted_lowest is not ..., 'predicted_lowest is ...: not done yet (commit your prediction)'\n"
                                               ">>> assert predicted_lowest in CHOICES, f'predicted_lowest = {predicted_lowest!r}: pick one of {CHOICES}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
