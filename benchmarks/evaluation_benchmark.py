"""Benchmark: how fast is the importance-weighted evaluation, against this machine's matrix multiply?

Scores `--images` binarized test digits with k = `--k` samples (course_utils.evaluation.iw_log_likelihood)
using the shipped best VAE, extrapolates to the whole test set, and times plain `torch.mm` calls of the
decoder's shapes for the same number of (sample, image) rows in the same run. The ratio says how close
the evaluation runs to the matrix-multiply throughput (the rest is the encoder, sampling, the Bernoulli
log-likelihood and logsumexp).

    COURSE_DATA_DIR=/path/to/mnist python benchmarks/evaluation_benchmark.py --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

from course_utils.data import binarize_dynamic, load_mnist
from course_utils.evaluation import ROWS_PER_CHUNK, iw_log_likelihood
from course_utils.runtime import get_device
from course_utils.train import load_pretrained


def decoder_shapes(model) -> list[tuple[int, int]]:
    """(in, out) of every linear layer of the decoder, in order."""
    return [(m.in_features, m.out_features) for m in model.decoder if isinstance(m, torch.nn.Linear)]


def time_matmuls(shapes: list[tuple[int, int]], rows: int, repeats: int, device: torch.device) -> float:
    """Seconds for `repeats` passes of (rows, in) @ (in, out) through every decoder shape."""
    a = {d_in: torch.randn(rows, d_in, device=device) for d_in, _ in shapes}
    w = [torch.randn(d_in, d_out, device=device) for d_in, d_out in shapes]
    for (d_in, _), weight in zip(shapes, w, strict=True):
        torch.mm(a[d_in], weight)  # warm-up
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        for (d_in, _), weight in zip(shapes, w, strict=True):
            torch.mm(a[d_in], weight)
    _sync(device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100, help="test digits to score (default 100)")
    parser.add_argument("--k", type=int, default=5000, help="importance samples per image (default 5000)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--device", default=None, help="default: the course's choice (get_device)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    model, _ = load_pretrained("vae_binarized", device=device)
    test, _ = load_mnist("test")
    x = binarize_dynamic(test, torch.Generator().manual_seed(0)).flatten(1)[: args.images].to(device)

    iw_log_likelihood(model, x[:2], 10)  # warm-up
    _sync(device)
    start = time.perf_counter()
    nll = -iw_log_likelihood(model, x, args.k, generator=torch.Generator(device=device).manual_seed(0)).mean()
    _sync(device)
    seconds = time.perf_counter() - start
    rows = args.images * args.k
    shapes = decoder_shapes(model)
    flops = sum(2 * rows * d_in * d_out for d_in, d_out in shapes)
    chunk_rows = ROWS_PER_CHUNK // 100 * 100  # the evaluation's own chunk: batch 100 x chunk of samples
    mm_seconds = time_matmuls(shapes, chunk_rows, max(1, rows // chunk_rows), device)
    print(f"device {device}, {torch.get_num_threads()} thread(s), torch {torch.__version__}")
    print(f"{args.images} images x k = {args.k}: {seconds:.1f} s (NLL of these {nll:.2f} nats); "
          f"whole test set (10,000 images): about {seconds * 10_000 / args.images / 60:.1f} min")
    print(f"decoder matrix products alone, same rows: {mm_seconds:.1f} s = {flops / mm_seconds / 1e9:.1f} GFLOP/s; "
          f"the evaluation reaches {flops / seconds / 1e9:.1f} GFLOP/s of decoder matmul work, "
          f"{mm_seconds / seconds:.0%} of the plain torch.mm throughput")


if __name__ == "__main__":
    main()
