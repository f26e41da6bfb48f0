OK_FORMAT = True

test = {   'name': 'ae_forward',
    'points': 3,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> from course_utils.models import Autoencoder as Reference\n'
                                               '>>> _ = torch.manual_seed(0)\n'
                                               '>>> reference = Reference(input_dim=16, hidden_dim=8, latent_dim=3)\n'
                                               '>>> model = Autoencoder(input_dim=16, hidden_dim=8, latent_dim=3)\n'
                                               '>>> _ = model.load_state_dict(reference.state_dict())\n'
                                               '>>> x = torch.rand(5, 16)\n'
                                               ">>> check_close(model.encode(x), reference.encode(x), 'encode(x) for rows x of shape (5, 16)')\n"
                                               ">>> check_close(model(x), reference(x), 'forward(x) for rows x of shape (5, 16)')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
