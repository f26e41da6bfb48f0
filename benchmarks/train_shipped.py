"""Train the models shipped with the course; the settings of each are here, and saved in its checkpoint.

Lessons 06 to 10 load these instead of training for minutes. Each checkpoint records the
TrainConfig that made it (`load_pretrained(name)[1].config`), so this table, the checkpoint and the
lessons state the same settings. Every run is deterministic on a CPU: --check retrains and confirms
that the shipped weights are reproduced bit for bit (with the torch version and thread count the
checkpoint records beside its settings).

    COURSE_DATA_DIR=/path/to/mnist python benchmarks/train_shipped.py                  # all of them
    COURSE_DATA_DIR=/path/to/mnist python benchmarks/train_shipped.py vae_latent2 --check

(The 784-512-512-50 VAE of lesson 08, vae_binarized.pt, trains for an hour: benchmarks/train_best_vae.py.)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from course_utils.data import load_mnist
from course_utils.models import CVAE, VAE, Autoencoder, init_output_bias
from course_utils.runtime import seed_everything
from course_utils.train import CHECKPOINTS, fit, load_checkpoint, save_checkpoint


@dataclass(frozen=True)
class Recipe:
    """How one shipped model is made: its class and sizes, then fit's settings (seed 0, CPU)."""

    model: type
    sizes: dict = field(default_factory=dict)
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    schedule: str = "cosine"
    binarize: str | None = None  # None: grey-level targets
    init_output_bias: bool = True  # decoder bias started at the average image
    labels: bool = False  # train on (image, label) pairs
    warmup_epochs: int = 0  # KL weight rising from 0 to 1 over these epochs
    free_bits: float = 0.0  # nats per latent dimension (Kingma et al. 2016)
    iw_samples: int = 1  # > 1: train the IWAE bound L_k (Burda et al. 2016)
    beta: float = 1.0  # the KL term's weight (Higgins et al. 2017)


RECIPES = {
    # Lesson 06's VAEs (grey-level targets) and lesson 07's wider latent space.
    "vae_latent20": Recipe(VAE, {"latent_dim": 20}, epochs=30),
    "vae_latent2": Recipe(VAE, {"latent_dim": 2}, epochs=15),
    "vae_latent50": Recipe(VAE, {"latent_dim": 50}, epochs=10, batch_size=256, lr=3e-3),
    # Lesson 09's remedies for the 50-D model's collapsed units: the same recipe with a KL warm-up over the
    # first half, or with free bits of 0.25 nats per dimension.
    "vae_latent50_warmup": Recipe(VAE, {"latent_dim": 50}, epochs=10, batch_size=256, lr=3e-3, warmup_epochs=5),
    "vae_latent50_freebits": Recipe(VAE, {"latent_dim": 50}, epochs=10, batch_size=256, lr=3e-3, free_bits=0.25),
    # Lesson 09's IWAE experiment (Burda et al.'s Table 2, one stochastic layer of 50 units): the course's
    # 784-400-50 VAE on binarized digits, trained for the same 20 epochs with the bound L_k, k = 1 (the VAE), 5, 50.
    **{f"iwae_k{k}": Recipe(VAE, {"latent_dim": 50}, epochs=20, binarize="dynamic", iw_samples=k) for k in (1, 5, 50)},
    # Lesson 09's β sweep (its train_beta_vae: hidden layer of 200, 20-D, 6 epochs on binarized digits) at
    # β = 1, 3 and 10, shipped for lesson 11's probes and samples: one architecture, only β differs.
    **{f"vae_beta{b:g}": Recipe(VAE, {"hidden_dim": 200, "latent_dim": 20}, epochs=6, binarize="dynamic", beta=b)
       for b in (1.0, 3.0, 10.0)},
    # Lesson 03's autoencoders with lesson 03's settings, 3 epochs (lesson 07 compares them with the VAEs).
    "ae_latent2": Recipe(Autoencoder, {"latent_dim": 2}, epochs=3, schedule="constant", init_output_bias=False),
    "ae_latent20": Recipe(Autoencoder, {"latent_dim": 20}, epochs=3, schedule="constant", init_output_bias=False),
    # Lesson 09's conditional VAE, on binary images so that log p(x | y) is a log-probability.
    "cvae_latent20": Recipe(CVAE, {"latent_dim": 20}, epochs=30, binarize="dynamic", labels=True),
}


def train(name: str, out: Path, train_data: tuple, test_data: tuple) -> tuple[torch.nn.Module, object]:
    """Train the shipped model `name` on the CPU from MNIST's (images, labels), writing its checkpoint to `out`."""
    recipe = RECIPES[name]
    (x, y), (x_test, y_test) = train_data, test_data
    seed_everything(0)
    model = recipe.model(**recipe.sizes)
    if recipe.init_output_bias:
        init_output_bias(model, x)
    history = fit(model, x, y if recipe.labels else None, epochs=recipe.epochs, batch_size=recipe.batch_size,
                  lr=recipe.lr, schedule=recipe.schedule, binarize=recipe.binarize, warmup_epochs=recipe.warmup_epochs,
                  free_bits=recipe.free_bits, iw_samples=recipe.iw_samples, beta=recipe.beta, test_x=x_test,
                  test_y=y_test if recipe.labels else None, device="cpu", checkpoint_path=out, seed=0,
                  progress=False)
    facts = {"script": f"benchmarks/train_shipped.py {name}", "init_output_bias": recipe.init_output_bias,
             "threads": torch.get_num_threads(), "torch": str(torch.__version__)}
    save_checkpoint(model, out, history, facts=facts)  # the last epoch again, now with how it was made
    return model, history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"which models (default: all): {', '.join(RECIPES)}")
    parser.add_argument("--check", action="store_true",
                        help="retrain into a temporary file and compare with the shipped weights")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    unknown = sorted(set(args.names) - set(RECIPES))
    if unknown:
        parser.error(f"no recipe for {unknown}; the shipped models are {', '.join(RECIPES)}")
    data = load_mnist("train"), load_mnist("test")
    for name in args.names or list(RECIPES):
        shipped = CHECKPOINTS / f"{name}.pt"
        out = shipped.with_name(f"{name}.check.pt") if args.check else shipped
        if args.check and not args.threads:  # bit for bit needs the thread count the model was made with
            made_with = torch.load(shipped, map_location="cpu", weights_only=True)["train_config"].get("threads")
            torch.set_num_threads(made_with or torch.get_num_threads())
        start = time.perf_counter()
        model, history = train(name, out, *data)
        config = history.config
        print(f"{name}: {config.epochs} epochs, batch {config.batch_size}, lr {config.lr} {config.schedule}, "
              f"{'grey-level' if config.binarize is None else config.binarize + ' binarized'} targets, "
              f"{time.perf_counter() - start:.0f} s; final test loss {history.test_loss[-1]:.2f} nats per image "
              f"(reconstruction {history.test_recon[-1]:.2f} + KL {history.test_kl[-1]:.2f})", flush=True)
        if args.check:
            reference, _ = load_checkpoint(shipped, device="cpu")
            ours, theirs = model.state_dict(), reference.state_dict()
            same = ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
            out.unlink()
            print(f"  {'identical to' if same else 'DIFFERENT from'} the shipped {shipped.name}", flush=True)


if __name__ == "__main__":
    main()
