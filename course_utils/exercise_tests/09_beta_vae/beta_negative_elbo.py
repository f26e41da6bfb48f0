OK_FORMAT = True

test = {   'name': 'beta_negative_elbo',
    'points': 2,
    'suites': [   {   'cases': [   {   'code': '>>> from course_utils.grading import check_close\n'
                                               '>>> from torch.distributions import Bernoulli, Independent, Normal, kl_divergence\n'
                                               '>>> logits, x = (torch.tensor([[0.0, 2.0, -1.0], [1.0, -3.0, 0.5]]), torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]))\n'
                                               '>>> mu, logvar = (torch.tensor([[0.0, 1.0], [0.5, -1.0]]), torch.tensor([[0.0, 0.0], [-2.0, 1.0]]))\n'
                                               '>>> loss, recon, kl = beta_negative_elbo(logits, x, mu, logvar, 4.0)\n'
                                               ">>> check_close(recon, -Bernoulli(logits=logits).log_prob(x).sum(1).mean(), 'recon (the reconstruction term)')\n"
                                               ">>> check_close(kl, kl_divergence(Independent(Normal(mu, (0.5 * logvar).exp()), 1), Independent(Normal(torch.zeros(2), torch.ones(2)), 1)).mean(), 'kl "
                                               "(the KL term, not multiplied by beta)')\n"
                                               ">>> check_close(loss, recon + 4.0 * kl, 'loss at beta = 4 (should be recon + 4 * kl)')\n",
                                       'hidden': False,
                                       'locked': False}],
                      'scored': True,
                      'setup': '',
                      'teardown': '',
                      'type': 'doctest'}]}
