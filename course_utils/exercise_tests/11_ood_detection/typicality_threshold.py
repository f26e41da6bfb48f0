OK_FORMAT = True

test = {   'name': 'typicality_threshold',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> import math\n'
                                               '>>> from course_utils.grading import check_close\n'
                                               '>>> got = typicality_threshold([9.0, 9.0, 11.0, 11.0], 2, 0.05)\n'
                                               ">>> assert got is not None, 'typicality_threshold returned None: replace the ... with your code'\n"
                                               ">>> check_close(float(got), 1.959963984540054, 'typicality_threshold([9, 9, 11, 11], 2, 0.05) (should be z = 1.95996)')\n"
                                               '>>> try:\n'
                                               '...     typicality_threshold([9.0, 11.0], 0, 0.05)\n'
                                               '... except ValueError:\n'
                                               '...     pass\n'
                                               '... else:\n'
                                               "...     raise AssertionError('typicality_threshold(..., batch_size=0, ...) should raise a ValueError')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
