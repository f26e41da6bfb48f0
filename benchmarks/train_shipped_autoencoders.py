"""Train the autoencoders shipped with the course (lesson 07 loads them to compare with the VAEs).

Lesson 03's `Autoencoder` with lesson 03's settings (seed 0, Adam lr 1e-3 constant, batch 128,
grey-level targets), for latent_dim 2 and 20, for 3 epochs (lesson 03 trains 10; with a constant lr
the first 3 epochs of its run are these). Writes course_utils/checkpoints/ae_latent<d>.pt (config,
weights, per-epoch history) and prints each model's final test reconstruction loss.

    COURSE_DATA_DIR=/path/to/mnist python benchmarks/train_shipped_autoencoders.py [--epochs 3]
"""

from __future__ import annotations

import argparse
import time

import torch

from course_utils.data import load_mnist
from course_utils.models import Autoencoder
from course_utils.runtime import seed_everything
from course_utils.train import CHECKPOINTS, fit, load_pretrained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latent-dims", type=int, nargs="+", default=[2, 20])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, _ = load_mnist("train")
    x_test, _ = load_mnist("test")
    for latent_dim in args.latent_dims:
        seed_everything(0)
        model = Autoencoder(latent_dim=latent_dim)
        name = f"ae_latent{latent_dim}"
        start = time.perf_counter()
        history = fit(model, x.flatten(1), epochs=args.epochs, batch_size=128, lr=1e-3, test_x=x_test.flatten(1),
                      checkpoint_path=CHECKPOINTS / f"{name}.pt", seed=0, progress=False)
        reloaded, saved = load_pretrained(name, device="cpu")  # what the notebook will get
        assert saved.test_loss == history.test_loss and reloaded.config == model.config
        print(f"{name}: {args.epochs} epochs, {time.perf_counter() - start:.0f} s; final test reconstruction "
              f"{history.test_loss[-1]:.2f} nats per image (grey-level BCE)", flush=True)


if __name__ == "__main__":
    main()
