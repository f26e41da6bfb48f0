OK_FORMAT = True

test = {   'name': 'spherical_interpolation',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> import math\n'
                                               '>>> from course_utils.grading import check_close\n'
                                               '>>> z0, z1 = (2.0 * torch.tensor([1.0, 0.0]), 2.0 * torch.tensor([0.0, 1.0]))\n'
                                               '>>> got = slerp(z0, z1, 0.5)\n'
                                               ">>> assert got is not None, 'slerp returned None: replace the ... with your code'\n"
                                               ">>> check_close(got, torch.tensor([math.sqrt(2.0), math.sqrt(2.0)]), 'slerp of a quarter circle at alpha = 0.5')\n"
                                               ">>> check_close(slerp(z0, z1, 0.0), z0, 'slerp at alpha = 0 (should be z0)')\n"
                                               ">>> check_close(slerp(z0, z1, 1.0), z1, 'slerp at alpha = 1 (should be z1)')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
