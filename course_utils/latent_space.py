"""Tools for looking inside a trained code space: encode a data set, decode codes, grids, interpolation,
traversals, active units, posterior ellipses, temperature samples, nearest neighbours, the codes' convex hull
and the aggregate posterior's density.

encode_dataset, decode_images and grid_codes are used from notebooks/03_autoencoder.ipynb on (lesson 03
once wrote them inline), quantile_grid from notebooks/06_vae.ipynb; the rest is derived in
notebooks/07_latent_space.ipynb. The functions that use a model (encode_posterior, encode_dataset,
decode_images) take it as their first argument, work on whichever device it is on, leave its train/eval
mode as they found it, and return CPU tensors; the others work on codes alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .checks import draw_device
from .info import kl_normal_standard
from .models import encode_batch, eval_mode

METHODS = ("linear", "spherical")


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _check_codes(z: torch.Tensor, what: str = "z") -> torch.Tensor:
    z = torch.as_tensor(z)
    if not torch.is_floating_point(z) or z.dim() != 2:
        raise ValueError(f"{what} must be a float tensor of codes shaped (N, latent_dim), got "
                         f"{z.dtype} {tuple(z.shape)}; a single code needs z.unsqueeze(0)")
    return z


@torch.no_grad()
def encode_posterior(model: nn.Module, x: torch.Tensor, batch_size: int = 2000, *,
                     y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, logvar) of q(z|x) (q(z|x, y) given labels) for every image, in batches, on the CPU: (N, latent_dim) each."""
    if not hasattr(model, "reparameterize"):
        raise ValueError(f"encode_posterior needs a VAE (its encoder returns (mu, logvar)), got "
                         f"{type(model).__name__}; use encode_dataset for an autoencoder")
    device = _device(model)
    with eval_mode(model):
        parts = [encode_batch(model, x[i:i + batch_size].to(device), None if y is None else y[i:i + batch_size])
                 for i in range(0, len(x), batch_size)]
    return torch.cat([mu.cpu() for mu, _ in parts]), torch.cat([logvar.cpu() for _, logvar in parts])


@torch.no_grad()
def encode_dataset(model: nn.Module, x: torch.Tensor, batch_size: int = 2000, *,
                   y: torch.Tensor | None = None) -> torch.Tensor:
    """The code of every image, (N, latent_dim) on the CPU: z = encode(x) for an autoencoder, mu(x) for a VAE."""
    if hasattr(model, "reparameterize"):
        return encode_posterior(model, x, batch_size, y=y)[0]
    with eval_mode(model):
        return torch.cat([model.encode(x[i:i + batch_size].to(_device(model))).cpu()
                          for i in range(0, len(x), batch_size)])


@torch.no_grad()
def decode_images(model: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Pixel probabilities sigmoid(decode(z)), (N, input_dim) on the CPU, of any codes z (N, latent_dim)."""
    z = _check_codes(z)
    latent_dim = model.config.latent_dim
    if z.shape[1] != latent_dim:
        raise ValueError(f"codes have {z.shape[1]} dimensions but the model's latent_dim is {latent_dim}")
    weight = next(model.parameters())
    with eval_mode(model):
        return torch.sigmoid(model.decode(z.to(weight.device, weight.dtype))).cpu()


def grid_codes(low: tuple[float, float], high: tuple[float, float], steps: int) -> torch.Tensor:
    """A steps x steps grid of 2-D codes from low to high, (steps*steps, 2) in image order: top row = largest z_2."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    grid_1 = torch.linspace(float(low[0]), float(high[0]), steps)
    grid_2 = torch.linspace(float(high[1]), float(low[1]), steps)  # top row = largest z_2
    return torch.cartesian_prod(grid_2, grid_1).flip(1)  # (steps*steps, 2), row-major


def quantile_grid(steps: int, low: float = 0.03, high: float = 0.97) -> torch.Tensor:
    """2-D codes at the quantiles of N(0, 1) on each axis, so every cell holds the same prior mass (image order)."""
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"quantile levels must satisfy 0 < low < high < 1, got {low}, {high}")
    q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(low, high, steps))  # (steps,)
    return torch.cartesian_prod(q.flip(0), q).flip(1)  # (steps*steps, 2), top row = largest z_2


def slerp(z0: torch.Tensor, z1: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation: the great-circle arc from z0 to z1 (norm kept when |z0| = |z1|); alpha in [0, 1]."""
    z0, z1 = torch.as_tensor(z0), torch.as_tensor(z1)
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same shape, got {tuple(z0.shape)} and {tuple(z1.shape)}")
    alpha = torch.as_tensor(alpha, dtype=z0.dtype).reshape(-1, *([1] * z0.dim()))  # (A, 1, ..., 1)
    cos = (z0 * z1).sum(-1, keepdim=True) / (z0.norm(dim=-1, keepdim=True) * z1.norm(dim=-1, keepdim=True))
    omega = torch.arccos(cos.clamp(-1.0, 1.0))  # the angle between the two codes
    sin = torch.sin(omega)
    safe = sin.abs() > 1e-6  # (anti)parallel codes: no unique great circle, fall back to the straight line
    w0 = torch.where(safe, torch.sin((1 - alpha) * omega) / torch.where(safe, sin, 1.0), 1 - alpha)
    w1 = torch.where(safe, torch.sin(alpha * omega) / torch.where(safe, sin, 1.0), alpha)
    out = w0 * z0 + w1 * z1
    return out[0] if out.shape[0] == 1 else out


def interpolate(z0: torch.Tensor, z1: torch.Tensor, num_steps: int, method: str = "linear") -> torch.Tensor:
    """num_steps codes from z0 to z1 (both (latent_dim,)), straight ('linear') or along the arc ('spherical')."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if z0.dim() != 1 or z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must be single codes of the same size, got {tuple(z0.shape)}, {tuple(z1.shape)}")
    if num_steps < 2:
        raise ValueError(f"num_steps must be at least 2, got {num_steps}")
    alpha = torch.linspace(0.0, 1.0, num_steps, dtype=z0.dtype)
    if method == "linear":
        return (1 - alpha[:, None]) * z0 + alpha[:, None] * z1  # (num_steps, latent_dim)
    return slerp(z0, z1, alpha).reshape(num_steps, -1)


def traverse(z: torch.Tensor, dim: int, values: torch.Tensor) -> torch.Tensor:
    """Copies of the code z (latent_dim,) with coordinate `dim` set to each of `values`: (len(values), latent_dim)."""
    if z.dim() != 1 or not 0 <= dim < z.shape[0]:
        raise ValueError(f"need one code z (latent_dim,) and 0 <= dim < latent_dim; got {tuple(z.shape)}, dim={dim}")
    codes = z.repeat(len(values), 1)
    codes[:, dim] = torch.as_tensor(values, dtype=z.dtype)
    return codes


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Average over the data of each dimension's KL(q(z_d|x) || N(0, 1)), in nats: (latent_dim,)."""
    mu, logvar = _check_codes(mu, "mu"), _check_codes(logvar, "logvar")
    return kl_normal_standard(mu[..., None], logvar[..., None]).mean(0)  # each dimension a 1-D Gaussian, (N, d)


def unit_activity(mu: torch.Tensor) -> torch.Tensor:
    """Variance over the data of each E_q[z_d | x] = mu_d(x) (Burda et al. 2016): (latent_dim,)."""
    mu = _check_codes(mu, "mu")
    if len(mu) < 2:
        raise ValueError("need the means of at least two images to measure a variance over the data")
    return mu.var(0)


def active_units(mu: torch.Tensor, threshold: float = 0.01) -> torch.Tensor:
    """Boolean mask of the active units: those whose activity (variance of mu_d over the data) exceeds threshold."""
    return unit_activity(mu) > threshold


def posterior_ellipse(mu: torch.Tensor, logvar: torch.Tensor, num_std: float = 2.0,
                      num_points: int = 100) -> torch.Tensor:
    """Points (num_points, 2) on the num_std-sigma ellipse of a 2-D q(z|x) = N(mu, diag exp(logvar))."""
    mu, logvar = torch.as_tensor(mu).reshape(-1), torch.as_tensor(logvar).reshape(-1)
    if mu.shape != (2,) or logvar.shape != (2,):
        raise ValueError(f"an ellipse needs a 2-D posterior: mu and logvar of shape (2,), got {tuple(mu.shape)}")
    angle = torch.linspace(0.0, 2 * math.pi, num_points, dtype=mu.dtype)
    circle = torch.stack([angle.cos(), angle.sin()], dim=1)  # (num_points, 2) on the unit circle
    return mu + num_std * (0.5 * logvar).exp() * circle


def temperature_codes(num_samples: int, latent_dim: int, temperature: float,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """Codes z = T * eps, eps ~ N(0, I): samples of the prior with its standard deviation scaled by T."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    eps = torch.randn(num_samples, latent_dim, generator=generator, device=draw_device(generator, "cpu"))
    return temperature * eps.cpu()


def nearest_neighbours(queries: torch.Tensor, reference: torch.Tensor, batch_size: int = 16384,
                       reference_sq_norms: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(distances, indices): for each query row, the Euclidean distance to and index of its nearest reference row.

    Pass `reference_sq_norms` (reference.pow(2).sum(1)) to reuse them when the same reference is searched often.
    """
    queries, reference = queries.flatten(1).float(), reference.flatten(1).float()
    if queries.shape[1] != reference.shape[1]:
        raise ValueError(f"queries have {queries.shape[1]} features and reference rows {reference.shape[1]}")
    if len(reference) == 0:
        raise ValueError("the reference set is empty: pass at least one reference row")
    r_sq = reference.pow(2).sum(1) if reference_sq_norms is None else reference_sq_norms  # (R,)
    best_score = torch.full((len(queries),), math.inf)
    best_i = torch.zeros(len(queries), dtype=torch.long)
    for start in range(0, len(reference), batch_size):  # bounded memory: (Q, batch_size) scores at a time
        # |q - r|^2 = |q|^2 - 2 q.r + |r|^2, and |q|^2 is the same for every r: one matrix product ranks them all
        score = r_sq[start:start + batch_size] - 2 * queries @ reference[start:start + batch_size].T
        s, i = score.min(dim=1)
        better = s < best_score
        best_score, best_i = torch.where(better, s, best_score), torch.where(better, i + start, best_i)
    return (queries - reference[best_i]).norm(dim=1), best_i  # exact distances to the chosen neighbours


def code_spacing(z: torch.Tensor) -> torch.Tensor:
    """How far real codes are from each other: for every other code (even rows), the distance to the nearest odd row."""
    z = _check_codes(z)
    if len(z) < 2:
        raise ValueError("need at least two codes to measure their spacing")
    return nearest_neighbours(z[::2], z[1::2])[0]


def inside_hull(points: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Which 2-D points (P, 2) lie inside the convex hull of the codes (N, 2): a boolean mask (P,).

    The hull by Andrew's monotone chain; a point is inside when it lies on the inner side of every edge.
    """
    codes, points = _check_codes(codes).double(), points.double()
    if codes.shape[1] != 2 or points.dim() != 2 or points.shape[1] != 2:
        raise ValueError(f"inside_hull works in 2-D: codes (N, 2) and points (P, 2), got {tuple(codes.shape)} and "
                         f"{tuple(points.shape)}")
    ordered = sorted(set(map(tuple, codes.tolist())))
    if len(ordered) < 3:
        raise ValueError("a convex hull needs at least three distinct codes")

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    hull = []
    for sequence in (ordered, ordered[::-1]):  # the lower chain, then the upper one: counter-clockwise
        chain = []
        for p in sequence:
            while len(chain) >= 2 and cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        hull += chain[:-1]
    corners = torch.tensor(hull, dtype=torch.float64)  # (M, 2), counter-clockwise
    edges = corners.roll(-1, 0) - corners  # (M, 2)
    to_point = points[:, None, :] - corners[None]  # (P, M, 2)
    side = edges[None, :, 0] * to_point[..., 1] - edges[None, :, 1] * to_point[..., 0]  # (P, M): left of edge > 0
    return (side >= 0).all(1)


def aggregate_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, batch_size: int = 512
                          ) -> torch.Tensor:
    """log q(z) of the aggregate posterior q(z) = (1/N) Σ_n N(z; μ_n, diag σ_n²), at each point z (P, d): (P,)."""
    z, mu, logvar = z.double(), mu.double(), logvar.double()
    if z.dim() != 2 or mu.shape != logvar.shape or mu.shape[1:] != z.shape[1:]:
        raise ValueError(f"z must be (P, d) and mu, logvar (N, d) alike, got {tuple(z.shape)}, {tuple(mu.shape)}, "
                         f"{tuple(logvar.shape)}")
    parts = []
    for start in range(0, len(z), batch_size):  # (batch, N, d) at a time
        diff = (z[start:start + batch_size, None] - mu) ** 2 / logvar.exp()
        log_n = -0.5 * (diff + logvar + math.log(2 * math.pi)).sum(-1)  # (batch, N): log N(z; μ_n, σ_n²)
        parts.append(log_n.logsumexp(1) - math.log(len(mu)))
    return torch.cat(parts)
