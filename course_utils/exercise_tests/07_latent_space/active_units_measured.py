OK_FORMAT = True

test = {   'name': 'active_units_measured',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               ">>> assert measured_active is not ... and kl_parts is not ..., 'measured_active or kl_parts is ...: not done yet'\n"
                                               ">>> assert isinstance(measured_active, int), f'measured_active should be a Python int, got {type(measured_active).__name__}'\n"
                                               ">>> assert len(kl_parts) == 3, f'kl_parts should hold three numbers (spread, offset, width), got {len(kl_parts)}'\n"
                                               ">>> check_close(torch.tensor([float(sum(kl_parts))]), torch.tensor([kl50.sum().item()]), 'spread + offset + width summed over the dimensions (should "
                                               "be the total KL printed above)', rtol=0.0001)\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
