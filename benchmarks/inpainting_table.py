"""Pyro's CVAE inpainting protocol, like for like: one estimator, the same binarized digits, every model.

For each setting of Pyro's tutorial (1, 2 or 3 quadrants given; conditional.quadrant_masks) trains, on CPU
with seed 0, Pyro's two models in the course (course_utils.inpainting): the plain network `BaselineNet`
(784-500-500-784) and the CVAE with a learned prior p(z | given) built on it (`InpaintingCVAE`, latent 200,
hidden 500-500, as github.com/pyro-ppl/pyro examples/cvae), both by `train.fit` on dynamically binarized
training digits (Adam, lr 1e-3, batch 128 as Pyro; a cosine decay over the fixed epochs instead of Pyro's
early stopping). Then scores them and the shipped unconditional VAEs (vae_binarized, vae_latent20) with
`inpainting.inpainting_nll` on lesson 10's binarized test digits (one dynamic binarization of the training
and then the test set with a CPU generator seeded 0), the same k for every sampled estimate, and prints
the table with Pyro's published numbers beside it (theirs: −ELBO or BCE on grey targets, other models).

    COURSE_DATA_DIR=/path/to/mnist python benchmarks/inpainting_table.py --threads 2          # full run
    COURSE_DATA_DIR=/path/to/mnist python benchmarks/inpainting_table.py --fast --threads 1   # smoke run

Training time: one epoch of one setting's two models took 20.5 s on one idle CPU thread (6 s the network,
14.5 s the CVAE), so the default 8 epochs of all six models take about 8 minutes on one thread and, if two
threads give 1.6x, about 5 on two (an estimate: two threads were not measured on an idle machine). With the
machine shared, one thread took 826 s.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from course_utils.conditional import iw_conditional_defensive, quadrant_masks
from course_utils.data import binarize_dynamic, load_mnist
from course_utils.inpainting import BaselineNet, InpaintingCVAE, InpaintingScore, inpainting_nll
from course_utils.train import fit, load_pretrained

PYRO = {1: (100.4, 71.8), 2: (61.9, 51.0), 3: (25.4, 24.2)}  # their (plain network, CVAE −ELBO), nats, grey targets
SHIPPED = ("vae_binarized", "vae_latent20")
TRAIN = {"batch_size": 128, "lr": 1e-3, "schedule": "cosine", "binarize": "dynamic", "seed": 0}


def binarized_test_digits(num_test: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(grey training images, binarized test digits (num_test, 784)): lesson 10's draw, the same bits everywhere."""
    x_train_grey, _ = load_mnist("train")
    x_test_grey, _ = load_mnist("test")
    g = torch.Generator().manual_seed(0)
    binarize_dynamic(x_train_grey, g)  # lessons 01 and 10 draw the training set first, with the same generator
    return x_train_grey, binarize_dynamic(x_test_grey, g).flatten(1)[:num_test]


def train(model: torch.nn.Module, x: torch.Tensor, epochs: int) -> float:
    """Train `model` with fit on CPU (seed 0, TRAIN settings); return the seconds it took."""
    start = time.perf_counter()
    fit(model, x, epochs=epochs, device="cpu", progress=False, **TRAIN)
    return time.perf_counter() - start


def score(model, x: torch.Tensor, given: torch.Tensor, k: int, seed: int) -> dict:
    """inpainting_nll's mean, standard error, kind and seconds for one model."""
    start = time.perf_counter()
    result = inpainting_nll(model, x, given, k, generator=torch.Generator().manual_seed(seed))
    return {"mean": result.mean, "se": result.standard_error, "kind": result.kind,
            "seconds": time.perf_counter() - start}


def score_mixture(model, x: torch.Tensor, given: torch.Tensor, k: int, seed: int) -> dict:
    """A VAE's estimate with lesson 10's defensive mixture proposal instead of q(z | x): how far q's has converged."""
    start = time.perf_counter()
    estimate = iw_conditional_defensive(model, x, given, k, generator=torch.Generator().manual_seed(seed))
    result = InpaintingScore(-estimate.log_p_hidden, f"difference of two estimates, defensive mixture, k = {k}")
    return {"mean": result.mean, "se": result.standard_error, "kind": result.kind,
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=8, help="training epochs of every model (default 8)")
    parser.add_argument("--num-test", type=int, default=10_000, help="binarized test digits scored (default all)")
    parser.add_argument("-k", type=int, default=1000, help="importance samples of every sampled estimate")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--num-train", type=int, default=60_000, help="training images (default all)")
    parser.add_argument("--fast", action="store_true", help="smoke run: 1 epoch on 2,000 images, 100 digits, k = 20")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if args.fast:
        args.epochs, args.num_train, args.num_test, args.k = 1, 2000, 100, 20
    torch.set_num_threads(args.threads)
    x_train, x_test = binarized_test_digits(args.num_test)
    x_train = x_train[:args.num_train]
    shipped = {name: load_pretrained(name, device="cpu")[0] for name in SHIPPED}
    print(f"{args.num_train} training images, {args.epochs} epochs; {len(x_test)} binarized test digits, k = {args.k}; "
          f"{torch.get_num_threads()} thread(s)", flush=True)
    results = {}
    for quadrants, given in quadrant_masks().items():
        torch.manual_seed(0)
        baseline = BaselineNet(given)
        row = {"train_s": {"baseline": train(baseline, x_train, args.epochs)}}
        torch.manual_seed(0)
        cvae = InpaintingCVAE(given, baseline=baseline)
        row["train_s"]["cvae"] = train(cvae, x_train, args.epochs)
        row["baseline"] = score(baseline, x_test, given, args.k, quadrants)
        row["cvae"] = score(cvae, x_test, given, args.k, quadrants)
        row["cvae_elbo"] = score(cvae, x_test, given, 1, quadrants)  # k = 1: the CVAE's own one-sample −ELBO
        for name, model in shipped.items():
            row[name] = score(model, x_test, given, args.k, quadrants)
        row[f"{SHIPPED[0]}_mixture"] = score_mixture(shipped[SHIPPED[0]], x_test, given, args.k, quadrants)
        results[quadrants] = row
        print(f"given {quadrants}: trained in {row['train_s']['baseline']:.1f} s (baseline) and "
              f"{row['train_s']['cvae']:.1f} s (CVAE); scored in "
              + ", ".join(f"{name} {row[name]['seconds']:.1f} s" for name in ("baseline", "cvae", *SHIPPED)),
              flush=True)
    print_table(results, len(x_test), args.k)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"args": vars(args), "results": results, "pyro": PYRO}, f, indent=1)


def print_table(results: dict, num_test: int, k: int) -> None:
    """The course's models (mean ± standard error over digits) and Pyro's published numbers beside them."""
    columns = [("baseline", "baseline net (exact)"), ("cvae", f"CVAE, learned prior (k={k})"),
               ("cvae_elbo", "CVAE -ELBO (k=1)"), *[(name, f"{name} (k={k})") for name in SHIPPED],
               (f"{SHIPPED[0]}_mixture", f"{SHIPPED[0]}, mixture")]
    print(f"\n-log p(missing | given), nats per image, {num_test} binarized test digits, ± one standard error "
          "over digits")
    print(f"{'given':>5s} " + " ".join(f"{title:>24s}" for _, title in columns)
          + f" | {'Pyro net (theirs)':>17s} {'Pyro CVAE -ELBO (theirs)':>24s}")
    for quadrants, row in results.items():
        cells = " ".join(f"{row[key]['mean']:15.2f} ± {row[key]['se']:5.2f}" for key, _ in columns)
        print(f"{quadrants:5d} {cells} | {PYRO[quadrants][0]:17.1f} {PYRO[quadrants][1]:24.1f}")
    print("Course: the same binarized digits and masks for every model; baseline exact, CVAE importance-sampled "
          "(a stochastic upper bound), VAEs a difference of two estimates (not a bound): q(z|x) as proposal,\n"
          "and (last course column) lesson 10's defensive mixture proposal, a check on how far q's has converged.\n"
          "Pyro's (theirs, published): other models, grey-level BCE targets, the CVAE's number its -ELBO.")
    print("train seconds per model: " + "; ".join(
        f"given {q}: baseline {row['train_s']['baseline']:.0f}, CVAE {row['train_s']['cvae']:.0f}"
        for q, row in results.items()))


if __name__ == "__main__":
    main()
