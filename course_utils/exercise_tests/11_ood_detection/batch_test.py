OK_FORMAT = True

test = {   'name': 'batch_test',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> nll_example = torch.tensor([10.0, 10.0, 13.0, 13.0, 7.0, 8.0, 10.5, 9.5, 100.0])\n'
                                               '>>> got = batch_flag_rate(nll_example, [9.0, 9.0, 11.0, 11.0], 2, 0.05)\n'
                                               ">>> assert got is not None, 'batch_flag_rate returned None: replace the ... with your code'\n"
                                               ">>> check_close(float(got), 0.5, 'batch_flag_rate on 4 batches of 2 (means 10, 13, 7.5, 10; reference mean 10, eps 1.96)')\n"
                                               ">>> assert false_alarm_rate is not ... and false_alarm_se is not ... and (detection_rates is not ...), 'not done yet'\n"
                                               ">>> assert set(detection_rates) == {'rotated 180°', 'letters'}, f'detection_rates has the keys {sorted(detection_rates)}'\n"
                                               ">>> assert all((len(pair) == 2 for pair in detection_rates.values())), 'each rate is a pair (M = 1, M = 10)'\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
