OK_FORMAT = True

test = {   'name': 'active_units_count',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> mu = torch.tensor([[0.0, 1.0, 5.0], [1.0, 1.0, 5.01], [2.0, 1.0, 4.99]])\n'
                                               '>>> got = count_active_units(mu)\n'
                                               ">>> assert got is not None, 'count_active_units returned None: replace the ... with your code'\n"
                                               ">>> assert isinstance(got, int), f'return a Python int (int(...)), got {type(got).__name__}'\n"
                                               ">>> assert got == 1, f'expected 1 active unit (only the first column varies enough), got {got}'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
