"""Benchmark: the importance-weighted evaluation against a plain per-image loop and the matrix-multiply floor.

Scores `--images` binarized test digits with k = `--k` samples three ways, in one run, on the shipped best
VAE (or `--model`):

* the course's evaluator, `course_utils.evaluation.iw_log_likelihood`;
* a plain reference loop written from scratch: for one image at a time, decode 1,000 samples of q(z|x),
  x·logits − softplus(logits) summed over the pixels, logsumexp;
* the floor: plain `torch.mm` of the decoder's shapes for the same number of (sample, image) rows, the
  fastest of several row-block sizes (the time no evaluator can beat, since decoding is the work).

The evaluator and the floor are timed in `--repeats` alternating rounds and the fastest of each counts, so
that a busy moment of the machine slows neither more than the other.

It prints each time, the decoder matmul throughput each reaches, their ratios to the floor, and the
whole test set (10,000 digits) extrapolated from the evaluator's time. The two estimators agree within
their Monte Carlo error (printed).

    COURSE_DATA_DIR=/path/to/mnist python benchmarks/evaluation_benchmark.py --threads 1
    COURSE_DATA_DIR=/path/to/mnist python benchmarks/evaluation_benchmark.py --images 10000 --threads 2  # all
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F

from course_utils.data import binarize_dynamic, load_mnist
from course_utils.evaluation import iw_log_likelihood, standard_normal_log_prob
from course_utils.runtime import get_device
from course_utils.train import load_pretrained

FLOOR_ROWS = (256, 1024, 4096, 2**15)  # row blocks tried for the matmul floor; the fastest counts


def decoder_shapes(model) -> list[tuple[int, int]]:
    """(in, out) of every linear layer of the decoder, in order."""
    return [(m.in_features, m.out_features) for m in model.decoder if isinstance(m, torch.nn.Linear)]


def matmul_floor(shapes: list[tuple[int, int]], rows: int, device: torch.device) -> float:
    """Seconds for `rows` rows through every decoder shape with plain torch.mm, at the fastest row block."""
    best = math.inf
    for block in FLOOR_ROWS:
        a = {d_in: torch.randn(block, d_in, device=device) for d_in, _ in shapes}
        w = [torch.randn(d_in, d_out, device=device) for d_in, d_out in shapes]
        passes = max(1, rows // block)
        for (d_in, _), weight in zip(shapes, w, strict=True):
            torch.mm(a[d_in], weight)  # warm-up
        _sync(device)
        start = time.perf_counter()
        for _ in range(passes):
            for (d_in, _), weight in zip(shapes, w, strict=True):
                torch.mm(a[d_in], weight)
        _sync(device)
        best = min(best, (time.perf_counter() - start) * rows / (passes * block))
    return best


@torch.no_grad()
def reference_loop(model, x: torch.Tensor, k: int, generator: torch.Generator, per_step: int = 1000) -> torch.Tensor:
    """log p(x) per image (N,), one image at a time, `per_step` samples of q(z|x) decoded at once."""
    estimates = []
    for image in x:
        mu, logvar = model.encode(image[None])  # (1, d)
        sigma = (0.5 * logvar).exp()
        log_w = []
        for start in range(0, k, per_step):
            eps = torch.randn(min(per_step, k - start), mu.shape[1], generator=generator, device=x.device)
            z = mu + sigma * eps  # (n, d)
            logits = model.decoder(z)  # (n, 784)
            log_px_z = (image * logits - F.softplus(logits)).sum(-1)
            log_q = standard_normal_log_prob(eps) - sigma.log().sum(-1)
            log_w.append(log_px_z + standard_normal_log_prob(z) - log_q)
        estimates.append(torch.logsumexp(torch.cat(log_w), 0) - math.log(k))
    return torch.stack(estimates)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=40, help="test digits to score (default 40)")
    parser.add_argument("--k", type=int, default=5000, help="importance samples per image (default 5000)")
    parser.add_argument("--model", default="vae_binarized", help="a shipped checkpoint (default vae_binarized)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--device", default=None, help="default: the course's choice (get_device)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of evaluator and floor; fastest counts")
    parser.add_argument("--no-reference", action="store_true", help="skip the per-image loop (for many images)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    model, _ = load_pretrained(args.model, device=device)
    test, _ = load_mnist("test")
    x = binarize_dynamic(test, torch.Generator().manual_seed(0)).flatten(1)[: args.images].to(device)

    iw_log_likelihood(model, x[:2], 10)  # warm-up
    _sync(device)
    rows = args.images * args.k
    shapes = decoder_shapes(model)
    gflop = sum(2 * rows * d_in * d_out for d_in, d_out in shapes) / 1e9
    seconds = floor = math.inf  # the fastest of `repeats` alternating rounds of each (as timeit does)
    for _ in range(args.repeats):
        ours, took = _timed(lambda: (iw_log_likelihood(model, x, args.k, generator=torch.Generator(
            device=device).manual_seed(0)), _sync(device))[0])
        seconds, floor = min(seconds, took), min(floor, matmul_floor(shapes, rows, device))
    print(f"{args.model} on {device}, {torch.get_num_threads()} thread(s), torch {torch.__version__}; "
          f"{args.images} images x k = {args.k} ({gflop:.0f} GFLOP of decoder matmuls)")
    print(f"{'':34s} {'seconds':>8s} {'GFLOP/s':>8s} {'floor / time':>13s}")
    print(f"{'torch.mm floor':34s} {floor:8.2f} {gflop / floor:8.1f} {1:13.0%}")
    print(f"{'course evaluator':34s} {seconds:8.2f} {gflop / seconds:8.1f} {floor / seconds:13.0%}")
    if not args.no_reference:
        ref, ref_seconds = _timed(lambda: (reference_loop(model, x, args.k, torch.Generator(
            device=device).manual_seed(1)), _sync(device))[0])
        print(f"{'plain per-image loop':34s} {ref_seconds:8.2f} {gflop / ref_seconds:8.1f} {floor / ref_seconds:13.0%}")
        diff = (ours - ref).double()
        print(f"evaluator − loop: {diff.mean():+.3f} ± {diff.std() / math.sqrt(len(diff)):.3f} nats per image "
              f"(mean ± SE over images; independent draws); the loop takes {ref_seconds / seconds:.2f}x as long")
    print(f"NLL of these digits {-ours.mean():.2f} nats; whole test set (10,000 digits) at this speed: "
          f"about {seconds * 10_000 / args.images / 60:.1f} min")


if __name__ == "__main__":
    main()
