OK_FORMAT = True

test = {   'name': 'midpoint_norms',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> norms = midpoint_norms(2000, 20)\n'
                                               ">>> assert norms is not None, 'midpoint_norms returned None: replace the ... with your code'\n"
                                               ">>> assert norms.shape == (2000,), f'expected shape (2000,), got {tuple(norms.shape)}'\n"
                                               '>>> tolerance = 6 * (10 / 2000) ** 0.5\n'
                                               ">>> assert abs(norms.pow(2).mean().item() - 10) < tolerance, f'mean squared midpoint norm {norms.pow(2).mean().item():.2f}, expected 10 +- "
                                               "{tolerance:.2f}: the midpoint of two independent N(0, I) draws'\n"
                                               ">>> assert measured_ratio is not ..., 'measured_ratio is ...: not done yet (replace the `...`)'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
