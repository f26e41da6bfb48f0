"""Train the MNIST classifier shipped for lesson 11 (course_utils/checkpoints/mnist_classifier.pt).

The settings are SETTINGS below, and the checkpoint records them (`load_classifier()[1]`). The model trains on
all 60,000 training digits, each batch a fresh Bernoulli binarization, and is evaluated on the 10,000 test
digits twice: grey, and binarized once with seed 0 (its specification: at least 99% right there). A run is
deterministic on a CPU: --check retrains into a temporary file and says whether the shipped weights come back
bit for bit (with the thread count the checkpoint records; torch's version must match too).

    COURSE_DATA_DIR=/path/to/mnist python benchmarks/train_classifier.py            # writes the checkpoint
    COURSE_DATA_DIR=/path/to/mnist python benchmarks/train_classifier.py --check
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from course_utils.classifier import CHECKPOINT, accuracy, load_classifier, save_classifier, train_classifier
from course_utils.data import binarize_dynamic, load_mnist

# The shipped classifier's settings, in this one place (tests/test_classifier.py checks the checkpoint against it).
SETTINGS = {"epochs": 20, "batch_size": 128, "lr": 2e-3, "binarize": "dynamic", "schedule": "cosine",
            "dropout": 0.0, "seed": 0}
THREADS = 1  # on the shared 2-core machine it is made on, two threads ran 3x slower per batch beside other jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="retrain into a temporary file and compare with the shipped weights bit for bit")
    parser.add_argument("--out", type=Path, default=CHECKPOINT, help=f"where to write it (default {CHECKPOINT.name})")
    parser.add_argument("--threads", type=int, default=None,
                        help=f"torch intra-op threads (default {THREADS}; with --check, the checkpoint's)")
    args = parser.parse_args()
    threads = args.threads or (load_classifier("cpu")[1]["threads"] if args.check else THREADS)
    torch.set_num_threads(threads)
    (x, y), (x_test, y_test) = load_mnist("train", device="cpu"), load_mnist("test", device="cpu")
    x_test_binary = binarize_dynamic(x_test, torch.Generator().manual_seed(0))
    print(f"training on {len(x)} digits with {threads} thread(s): {SETTINGS}", flush=True)
    start = time.perf_counter()
    model, info = train_classifier(x, y, **SETTINGS, device="cpu", test_x=x_test_binary, test_y=y_test,
                                   progress=True)
    info["wall_seconds"] = time.perf_counter() - start
    info["test_accuracy_grey"] = accuracy(model, x_test, y_test)
    info["test_accuracy_binarized"] = accuracy(model, x_test_binary, y_test)
    info["script"] = "benchmarks/train_classifier.py"
    print(f"{info['wall_seconds']:.0f} s in all; test accuracy {info['test_accuracy_grey']:.2%} on grey digits, "
          f"{info['test_accuracy_binarized']:.2%} on binarized ones (seed 0)", flush=True)
    if not args.check:
        path = save_classifier(model, info, args.out)
        print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB)")
        return
    with tempfile.TemporaryDirectory() as folder:
        retrained = torch.load(save_classifier(model, info, Path(folder) / CHECKPOINT.name), weights_only=True)
    shipped = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    ours, theirs = retrained["state_dict"], shipped["state_dict"]
    same = ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    print(f"{'identical to' if same else 'DIFFERENT from'} the shipped {CHECKPOINT.name} (made with torch "
          f"{shipped['info']['torch']}, {shipped['info']['threads']} thread(s); this run: torch {torch.__version__})")


if __name__ == "__main__":
    main()
