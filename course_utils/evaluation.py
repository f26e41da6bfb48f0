"""How probable does a model find the test digits? log p(x) by importance sampling (the IWAE bound).

    log p(x) ≈ log (1/k) Σ_j p(x | z_j) p(z_j) / q(z_j | x),   z_j ~ q(z | x)      (Burda et al. 2016)

With k = 1 this is a one-sample ELBO; its expectation rises with k towards log p(x) and never exceeds it
(Jensen), and it equals log p(x) exactly, for every k, when q is the true posterior. Everything is in log
space (logsumexp) and in chunks of samples, so k = 5000 fits in memory; each chunk decodes all its
(sample, image) pairs in one matrix product on the model's device.

Derived in notebooks/08_evaluation.ipynb.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch

from .checks import check_count, check_gaussian, check_labels, draw_device, flatten_pixels
from .info import LOG_2PI
from .models import VAE, decode_batch, encode_batch, eval_mode
from .objectives import bernoulli_log_probs, softplus_sum
from .progress import Counter

LogJoints = torch.Tensor | tuple[torch.Tensor, ...]

ROWS_PER_CHUNK = 2**15  # (sample, image) pairs drawn at once: 2^15 codes of 50 floats are 6.5 MB
ROWS_IN_CACHE = 1024  # of those, decoded at once on a CPU (see pixel_log_likelihoods)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last (latent) dimension: (..., d) -> (...)."""
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * LOG_2PI)


def iw_log_marginal(
    log_joint: Callable[[torch.Tensor], LogJoints],
    mu: torch.Tensor,
    logvar: torch.Tensor | None,
    num_samples: int,
    *,
    scale_tril: torch.Tensor | None = None,
    chunk_size: int | None = None,
    generator: torch.Generator | None = None,
    with_ess: bool = False,
) -> LogJoints | tuple[LogJoints, LogJoints]:
    """Importance-weighted log p(x) for a batch, (B,), from samples of a Gaussian (or mixture) proposal q.

    `log_joint(z)` maps samples (S, B, d) to log p(x_b, z_sb), shaped (S, B), or to a tuple of such
    log-joints: each is then estimated from the same samples, and a tuple of estimates comes back.
    The proposal: q = N(mu, diag exp(logvar)) with mu, logvar (B, d) (an encoder's q); an equal-weight
    mixture of M such Gaussians with mu, logvar (B, M, d); or, with logvar None, N(mu, L Lᵀ) with
    scale_tril = L (B, d, d) or (d, d) (a full covariance, e.g. an exact posterior).
    `with_ess=True` also returns the effective sample size (Σw)² / Σw² of each estimate's weights, 1..k.
    """
    check_count(num_samples, "num_samples (k)")
    draw = _proposal(mu, logvar, scale_tril, generator)
    batch = mu.shape[0]
    chunk_size = chunk_size or max(1, min(num_samples, ROWS_PER_CHUNK // max(batch, 1)))
    sums = None  # running log Σ_j w_j of each log-joint (then log Σ_j w_j², for the ESS), each (B,)
    for start in range(0, num_samples, chunk_size):
        z, log_q = draw(min(chunk_size, num_samples - start))  # (n, B, d), (n, B)
        joints = log_joint(z)
        log_ws = [joint - log_q for joint in (joints if isinstance(joints, tuple) else (joints,))]  # (n, B) each
        terms = log_ws + [2 * log_w for log_w in log_ws] if with_ess else log_ws
        # Running log Σ_j w_j: logsumexp subtracts the largest term, so weights of e^-100 never underflow.
        chunk = [torch.logsumexp(term, dim=0) for term in terms]
        sums = chunk if sums is None else [torch.logaddexp(s, c) for s, c in zip(sums, chunk, strict=True)]
    count = len(log_ws)
    estimates = tuple(total - math.log(num_samples) for total in sums[:count])
    if with_ess:
        ess = tuple((2 * total - sq).exp() for total, sq in zip(sums[:count], sums[count:], strict=True))
        return (estimates, ess) if isinstance(joints, tuple) else (estimates[0], ess[0])
    return estimates if isinstance(joints, tuple) else estimates[0]


def _proposal(mu, logvar, scale_tril, generator):
    """Check the proposal's parameters; return draw(n) -> (z (n, B, d), log q(z) (n, B)) for n samples."""
    if (logvar is None) == (scale_tril is None):
        raise ValueError("give the proposal's spread as exactly one of logvar (diagonal) or scale_tril (full)")
    if mu.dim() not in (2, 3) or (scale_tril is not None and mu.dim() != 2):
        raise ValueError(f"mu must be (B, latent_dim), one row per image, or (B, M, latent_dim) for a mixture of M "
                         f"Gaussians (with logvar); got shape {tuple(mu.shape)}")
    batch, latent_dim = mu.shape[0], mu.shape[-1]
    where = draw_device(generator, mu.device)

    def standard_normal(n: int) -> torch.Tensor:
        return torch.randn(n, batch, latent_dim, generator=generator, device=where, dtype=mu.dtype).to(mu.device)

    if scale_tril is not None:
        if scale_tril.shape[-2:] != (latent_dim, latent_dim):
            raise ValueError(f"scale_tril must be (B, d, d) or (d, d) with d = {latent_dim}, "
                             f"got {tuple(scale_tril.shape)}")
        log_det = scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1).expand(batch)  # log det L, (B,)

        def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
            eps = standard_normal(n)  # (n, B, d)
            z = mu + (scale_tril @ eps.unsqueeze(-1)).squeeze(-1)
            return z, standard_normal_log_prob(eps) - log_det  # change of variables z = mu + L eps

        return draw
    check_gaussian(mu, logvar)
    sigma = (0.5 * logvar).exp()
    if mu.dim() == 2:
        log_det = 0.5 * logvar.sum(-1)  # log det Σ^{1/2}, (B,)

        def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
            eps = standard_normal(n)  # (n, B, d)
            return mu + sigma * eps, standard_normal_log_prob(eps) - log_det  # z = mu + sigma eps

        return draw
    num_components = mu.shape[1]  # a mixture: mu, sigma (B, M, d)

    def draw(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        eps = standard_normal(n)
        pick = torch.zeros(n, batch, 1, 1, dtype=torch.long, device=mu.device)  # which component, (n, B, 1, 1)
        if num_components > 1:
            pick = torch.randint(num_components, (n, batch, 1, 1), generator=generator, device=where).to(mu.device)
        take = pick.expand(-1, -1, 1, latent_dim)
        z = (mu.expand(n, -1, -1, -1).gather(2, take) + sigma.expand(n, -1, -1, -1).gather(2, take)
             * eps[:, :, None]).squeeze(2)  # (n, B, d)
        # log q(z) = log (1/M) Σ_m N(z; mu_m, σ_m²): the change of variables z = mu_m + σ_m ε, per component
        log_q = (standard_normal_log_prob((z[:, :, None] - mu) / sigma) - sigma.log().sum(-1)).logsumexp(-1) \
            - math.log(num_components)  # (n, B)
        return z, log_q

    return draw


@torch.no_grad()
def iw_log_likelihood(
    model: torch.nn.Module,
    x: torch.Tensor,
    num_samples: int = 5000,
    *,
    y: torch.Tensor | None = None,
    batch_size: int = 100,
    chunk_size: int | None = None,
    generator: torch.Generator | None = None,
    progress: bool | str = False,
    with_ess: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Importance-weighted log p(x) in nats, one per image (N,), for a VAE-like model; log p(x | y) given labels.

    The model needs `encode(x, y) -> (mu, logvar)` of q(z|x) and `decode(z, y) -> logits` of Bernoulli
    pixels (y None for a model without labels), with the prior p(z) = N(0, I). Images must be binary for
    a log-probability (a grey image gives, in expectation, a lower bound on the average log p of its random
    binarizations; lesson 08, section 7).
    k = num_samples; k = 1 is a one-sample ELBO. `progress` (True, or a label) shows the images done and
    the time left. `with_ess=True` also returns each image's effective sample size (Σw)² / Σw², 1..k.
    """
    x = flatten_pixels(x)  # (N, D)
    device = next(model.parameters()).device
    estimates, sizes = [], []
    label = progress if isinstance(progress, str) else f"log p(x), k = {num_samples}"
    with eval_mode(model), Counter(label, len(x), "images", enabled=bool(progress)) as count:
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(device)  # (B, D)
            yb = None if y is None else y[i : i + batch_size].to(device)
            mu, logvar = encode_batch(model, xb, yb)
            estimate, ess = iw_log_marginal(partial(vae_log_joint, model, xb, yb), mu, logvar, num_samples,
                                            chunk_size=chunk_size, generator=generator, with_ess=True)
            estimates.append(estimate)
            sizes.append(ess)
            count.add(len(xb))
    return (torch.cat(estimates), torch.cat(sizes)) if with_ess else torch.cat(estimates)


def vae_log_joint(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor:
    """log p(x | z) + log p(z), (S, B), for samples z (S, B, d) of images x (B, D)."""
    return pixel_log_likelihoods(model, z, x, y)[0] + standard_normal_log_prob(z)


def pixel_log_likelihoods(model: torch.nn.Module, z: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None = None,
                          weights: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_d w_jd log p(x_d | z) for every pixel weighting w_j (rows of `weights` (J, D), default all ones): (J, S, B).

    Samples z (S, B, d) of images x (B, D). A mask as weights sums over the pixels it keeps. An MLP decoder
    (Linear and ReLU layers, the course's VAE and CVAE) takes the fast path: with logits l = h Wᵀ + c of the
    last hidden layer h, log p(x | z) = Σ_d [x_d l_d − softplus(l_d)] = h·(Wᵀ x) + x·c − Σ_d softplus(l_d), so
    only the softplus needs every logit, and the logits are made and used a few samples at a time, while
    they are in the cache. Any other model decodes every sample (decode_samples).
    """
    weights = torch.ones(1, x.shape[-1], device=x.device, dtype=x.dtype) if weights is None else weights.to(x)
    layers = _mlp_layers(model, z, x, y)
    if layers is None:  # any other decoder, or gradients wanted: all logits at once
        log_probs = bernoulli_log_probs(decode_samples(model, z, y), x)  # (S, B, D)
        return torch.stack([(log_probs * w).sum(-1) for w in weights])
    *hidden, last = layers
    num_samples, batch, _ = z.shape
    label = None if y is None else torch.nn.functional.one_hot(
        check_labels(y, batch, "labels y", model.config.num_classes).to(z.device), model.config.num_classes).to(z)
    xw = weights[:, None, :] * x  # (J, B, D): the pixels each weighting counts
    image_terms = (xw @ last.weight).transpose(0, 1)  # (B, J, H): Wᵀ (w ⊙ x) of every image
    image_bias = xw @ last.bias  # (J, B): (w ⊙ x)·c
    every_pixel = len(weights) == 1 and bool((weights == 1).all())
    out = torch.empty(len(weights), num_samples, batch, device=z.device, dtype=z.dtype)
    step = max(1, _rows_in_cache(z.device) // batch)  # samples per block: its logits fit in the cache
    buffers = {}  # the layers' outputs: new memory for every block would cost a page fault per 4 kB
    for start in range(0, num_samples, step):
        zb = z[start : start + step].transpose(0, 1)  # (B, s, d): rows image by image
        s = zb.shape[1]
        h = zb if label is None else torch.cat([zb, label[:, None].expand(-1, s, -1)], -1)
        h = h.reshape(batch * s, -1)
        for i, layer in enumerate(hidden):  # Linear and ReLU, in place, into buffers kept from block to block
            h = _linear(layer, h, buffers, i) if isinstance(layer, torch.nn.Linear) else h.relu_()
        x_dot_logits = torch.bmm(h.view(batch, s, -1), image_terms.transpose(1, 2))  # (B, s, J): h·Wᵀ(w ⊙ x)
        logits = _linear(last, h, buffers, len(hidden))  # (B·s, D)
        softplus = softplus_sum(logits)[:, None] if every_pixel else (
            logits.clamp(min=0) - torch.sigmoid(logits.abs()).log_()) @ weights.T  # (B·s, J)
        out[:, start : start + s] = (x_dot_logits - softplus.view(batch, s, -1)).permute(2, 1, 0) + image_bias[:, None]
    return out


def _linear(layer: torch.nn.Linear, h: torch.Tensor, buffers: dict, i: int) -> torch.Tensor:
    """layer(h) written into buffers[i] (made, or remade for a smaller last block, as needed)."""
    shape = (len(h), layer.out_features)
    if i not in buffers or buffers[i].shape != shape:
        buffers[i] = torch.empty(shape, device=h.device, dtype=h.dtype)
    return torch.addmm(layer.bias, h, layer.weight.T, out=buffers[i])


def _mlp_layers(model: torch.nn.Module, z: torch.Tensor, x: torch.Tensor, y: torch.Tensor | None) -> list | None:
    """The decoder's layers when decode(z, y) is an MLP of Linear and ReLU layers on [z, one-hot y], the labels
    are as the model needs them, the dtypes agree and no gradient is wanted (the fast path writes in place);
    else None."""
    decoder = getattr(model, "decoder", None)
    if not (isinstance(model, VAE) and type(model).decode is VAE.decode and isinstance(decoder, torch.nn.Sequential)):
        return None
    layers = list(decoder)
    if (not layers or not isinstance(layers[0], torch.nn.Linear) or not isinstance(layers[-1], torch.nn.Linear)
            or not all(type(m) in (torch.nn.Linear, torch.nn.ReLU) for m in layers)):
        return None
    if model.needs_labels != (y is not None) or torch.is_grad_enabled() or not (
            z.dtype == x.dtype == layers[-1].weight.dtype):
        return None
    return layers


def _rows_in_cache(device: torch.device) -> int:
    """(sample, image) rows decoded at once on the fast path: 1024 rows of 784 logits (3 MB) stay in a CPU's
    cache (fewer rows make the matrix products slower, more spill to memory); a GPU wants them all at once."""
    return ROWS_IN_CACHE if device.type == "cpu" else ROWS_PER_CHUNK


def decode_samples(model: torch.nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """Logits (S, B, D) for samples z (S, B, d): one matrix product per layer, labels (B,) repeated S times."""
    n, b, d = z.shape
    return decode_batch(model, z.reshape(n * b, d), None if y is None else y.repeat(n)).reshape(n, b, -1)


def iw_log_likelihood_with_error(
    model: torch.nn.Module, x: torch.Tensor, num_samples: int, repeats: int, **kwargs
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image mean of `repeats` independent estimates (N,) and its standard error (N,)."""
    if not isinstance(repeats, int) or repeats < 2:
        raise ValueError(f"repeats must be an int >= 2 to give a standard error, got {repeats!r}")
    runs = torch.stack([iw_log_likelihood(model, x, num_samples, **kwargs) for _ in range(repeats)])  # (R, N)
    return runs.mean(0), runs.std(0) / math.sqrt(repeats)


def mean_and_standard_error(values: torch.Tensor) -> tuple[float, float]:
    """Mean over the first dimension and its standard error, std / sqrt(n), as floats."""
    values = values.double().flatten()
    if len(values) < 2:
        raise ValueError("a standard error needs at least two values")
    return values.mean().item(), (values.std() / math.sqrt(len(values))).item()


def bits_per_dim(nats_per_image: float, num_pixels: int = 784) -> float:
    """Nats per image as bits per pixel (dimension): divide by num_pixels and by ln 2 (lesson 01)."""
    return nats_per_image / (num_pixels * math.log(2.0))
