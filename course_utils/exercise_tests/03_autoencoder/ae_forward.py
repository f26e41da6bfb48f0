OK_FORMAT = True

test = {   'name': 'ae_forward',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> _ = torch.manual_seed(0)\n'
                                               '>>> model = Autoencoder(input_dim=16, hidden_dim=8, latent_dim=3)\n'
                                               '>>> x = torch.rand(5, 16)\n'
                                               ">>> check_close(model.encode(x), model.encoder(x), 'encode(x) for rows x of shape (5, 16)')\n"
                                               ">>> check_close(model(x), model.decoder(model.encoder(x)), 'forward(x) for rows x of shape (5, 16)')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
