"""Benchmark: one training epoch of the course's engine against the GEMM-only floor and the DataLoader loop.

The canonical VAE (MLP 784-400-20, Adam, batch 128, grey-level BCE + KL, 60,000 images), three ways, in
alternating rounds of one process; the fastest round of each counts (as timeit does), so that a busy moment
of the machine slows none of them more than the others:

* the floor: only the matrix products of one epoch's forward and backward passes, same shapes (the
  forward product of every layer, and the gradients of every weight and of every layer's input but the
  first), as plain `torch.mm` on tensors already in place: no training loop can do less work;
* Adam's updates alone, one per batch (fit's optimiser, fused where PyTorch has it): work every trainer does
  besides the matrix products, so floor + Adam is the least any Adam training loop can take;
* the course engine, `course_utils.train.fit` (one epoch; its own per-epoch wall time, `History.seconds`);
* pytorch/examples' loop fed by `DataLoader(MNIST(transform=ToTensor()))` (benchmarks/vae_benchmark.py).

    COURSE_DATA_DIR=/path/to/mnist python benchmarks/training_benchmark.py --threads 2
    COURSE_DATA_DIR=/path/to/mnist python benchmarks/training_benchmark.py --device cuda   # on a GPU
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch

from course_utils.data import load_mnist
from course_utils.models import VAE
from course_utils.runtime import get_device
from course_utils.train import fit

BATCH = 128


def linear_shapes(model: torch.nn.Module) -> list[tuple[int, int, bool]]:
    """(in, out, needs the input's gradient) of every Linear layer; the layers fed by the images need none."""
    layers = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    return [(m.in_features, m.out_features, m.in_features != 784) for m in layers]


def gemm_floor(shapes, images: int, device: torch.device) -> float:
    """Seconds of one epoch's matrix products alone: forward, weight gradient, input gradient, per batch."""
    tensors = [(torch.randn(BATCH, d_in, device=device), torch.randn(d_out, d_in, device=device),
                torch.randn(BATCH, d_out, device=device), needs_input) for d_in, d_out, needs_input in shapes]

    def one_step():
        for x, w, grad, needs_input in tensors:
            torch.mm(x, w.T)  # forward
            torch.mm(grad.T, x)  # gradient of the weight
            if needs_input:
                torch.mm(grad, w)  # gradient of the layer's input

    one_step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(math.ceil(images / BATCH)):
        one_step()
    _sync(device)
    return time.perf_counter() - start


def adam_alone(images: int, device: torch.device) -> float:
    """Seconds of one epoch's Adam updates alone (the optimiser fit uses, fused where it can be), gradients given."""
    from course_utils.train import _fast_adam

    model = VAE().to(device)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, **_fast_adam(device))
    optimizer.step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(math.ceil(images / BATCH)):
        optimizer.step()
    _sync(device)
    return time.perf_counter() - start


def engine_epoch(x: torch.Tensor, device: torch.device) -> tuple[float, float]:
    """(seconds, train −ELBO) of one epoch of course_utils.train.fit from the canonical seed."""
    torch.manual_seed(0)
    history = fit(VAE(), x, epochs=1, batch_size=BATCH, lr=1e-3, device=device, progress=False)
    return history.seconds[0], history.train_loss[0]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the fastest of each counts")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--device", default="cpu", help="default cpu; e.g. cuda")
    parser.add_argument("--images", type=int, default=60_000, help="training images per epoch (default all)")
    parser.add_argument("--no-reference", action="store_true", help="skip the DataLoader loop")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = get_device(args.device)
    x = load_mnist("train")[0][: args.images]
    shapes = linear_shapes(VAE())
    best = {"floor": math.inf, "adam": math.inf, "engine": math.inf, "reference": math.inf}
    with tempfile.TemporaryDirectory() as tmp:
        root = None
        if not args.no_reference:
            from vae_benchmark import reference_run, torchvision_mnist_root  # this folder's script

            root = torchvision_mnist_root(Path(tmp))
        for _ in range(args.rounds):
            best["floor"] = min(best["floor"], gemm_floor(shapes, len(x), device))
            best["adam"] = min(best["adam"], adam_alone(len(x), device))
            seconds, loss = engine_epoch(x, device)
            best["engine"] = min(best["engine"], seconds)
            if root is not None:
                run = reference_run(1, root, args.images if args.images < 60_000 else None, device=str(device))
                best["reference"] = min(best["reference"], run["seconds"][0])
    print(f"\nVAE 784-400-20, batch {BATCH}, one epoch of {len(x):,} images on {device}, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}; fastest of {args.rounds} rounds")
    print(f"{'':44s} {'s/epoch':>8s} {'÷ floor':>8s}")
    rows = [("GEMM-only floor (forward + backward matmuls)", best["floor"]),
            ("Adam's updates alone", best["adam"]),
            ("floor + Adam (no trainer does less)", best["floor"] + best["adam"]),
            ("course engine (fit)", best["engine"])]
    if root is not None:
        rows.append(("DataLoader loop (pytorch/examples)", best["reference"]))
    for name, seconds in rows:
        print(f"{name:44s} {seconds:8.2f} {seconds / best['floor']:7.2f}x")
    print(f"course engine's train −ELBO after the epoch: {loss:.4f} nats (the same seed gives the same number)")


if __name__ == "__main__":
    main()
