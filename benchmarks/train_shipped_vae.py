"""Train the VAEs shipped with the course (lesson 06 loads them instead of training for minutes).

Writes course_utils/checkpoints/vae_latent<d>.pt (config, weights, per-epoch history; about 2.6 MB)
and prints each model's final test −ELBO. Grey-level targets and the course's recommended settings
(decoder bias started at the average image, Adam with a cosine learning-rate decay).

    COURSE_DATA_DIR=/path/to/mnist python benchmarks/train_shipped_vae.py                  # latent 20 and 2
    COURSE_DATA_DIR=/path/to/mnist python benchmarks/train_shipped_vae.py --latent-dims 20 --epochs 5
"""

from __future__ import annotations

import argparse
import time

import torch

from course_utils.data import load_mnist
from course_utils.models import VAE, init_output_bias
from course_utils.train import CHECKPOINTS, fit, load_pretrained


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latent-dims", type=int, nargs="+", default=[20, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x, _ = load_mnist("train")
    x_test, _ = load_mnist("test")
    for latent_dim in args.latent_dims:
        torch.manual_seed(0)
        model = VAE(latent_dim=latent_dim)
        init_output_bias(model, x)  # start the decoder at the average image
        name = f"vae_latent{latent_dim}"
        start = time.perf_counter()
        history = fit(model, x, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      schedule="cosine", test_x=x_test, checkpoint_path=CHECKPOINTS / f"{name}.pt", seed=0)
        reloaded, saved = load_pretrained(name, device="cpu")  # what the notebook will get
        assert saved.test_loss == history.test_loss and reloaded.config == model.config
        print(f"{name}: {args.epochs} epochs, batch {args.batch_size}, lr {args.lr} cosine, "
              f"{time.perf_counter() - start:.0f} s; final test −ELBO {history.test_loss[-1]:.2f} nats "
              f"(reconstruction {history.test_recon[-1]:.2f} + KL {history.test_kl[-1]:.2f})", flush=True)


if __name__ == "__main__":
    main()
