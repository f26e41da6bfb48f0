"""Train the course's best VAE on dynamically binarized MNIST, on a CPU, within a time budget.

Lesson 08 loads the result (course_utils/checkpoints/vae_binarized.pt) and scores it with the
importance-weighted estimate of log p(x) (k = 5000), on the same footing as the IWAE paper (Burda et al.
2016, Table 1: a VAE with one stochastic layer, 86.76 nats). The paper's VAE is 784-200-200-50 with tanh,
trained for 3,280 epochs; this one is wider (two ReLU layers of 512) so that a few hundred epochs go
further. Training stops after --minutes of CPU time (one thread by default). The checkpoint records the
settings (TrainConfig, `load_pretrained("vae_binarized")[1].config`) and, beside them under
"train_config", the epochs finished, the CPU and wall times and the machine.

    COURSE_DATA_DIR=/path/to/mnist python benchmarks/train_best_vae.py                   # the shipped run
    COURSE_DATA_DIR=/path/to/mnist python benchmarks/train_best_vae.py --epochs 2 --out /tmp/try.pt
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import time
from pathlib import Path

import torch

from course_utils.data import load_mnist
from course_utils.models import VAE, init_output_bias
from course_utils.train import CHECKPOINTS, fit, load_checkpoint, save_checkpoint


def _stop_after_cpu_seconds(seconds: float) -> None:
    """After `seconds` of this process's CPU time, interrupt training as Ctrl-C would (fit keeps the
    finished epochs). CPU time, not wall time, so that other work on a shared machine does not shorten
    the run: with one thread it is the wall time the run would take on an idle core."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGPROF, handler)
    signal.setitimer(signal.ITIMER_PROF, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=250)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--hidden-dim", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=2)
    parser.add_argument("--latent-dim", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--minutes", type=float, default=60.0, help="stop after this much CPU time (minutes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=CHECKPOINTS / "vae_binarized.pt")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    x, _ = load_mnist("train")
    x_test, _ = load_mnist("test")
    torch.manual_seed(args.seed)
    model = VAE(hidden_dim=args.hidden_dim, latent_dim=args.latent_dim, num_layers=args.num_layers)
    init_output_bias(model, x)  # start the decoder at the average image
    partial = args.out.with_name(args.out.stem + ".partial.pt")
    start, cpu_start = time.perf_counter(), time.process_time()
    _stop_after_cpu_seconds(args.minutes * 60)
    history = fit(model, x, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, schedule="cosine",
                  binarize="dynamic", test_x=x_test, device="cpu", checkpoint_path=partial, seed=args.seed,
                  progress=False)
    signal.setitimer(signal.ITIMER_PROF, 0)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if not history.seconds:
        raise SystemExit(f"no epoch finished within {args.minutes} CPU minutes: allow more with --minutes")
    load_checkpoint(partial, model=model)  # the last finished epoch (an interrupt may stop mid-epoch)
    save_checkpoint(model, args.out, history=history, facts={  # the settings are in history.config
        "script": "benchmarks/train_best_vae.py", "epochs_done": len(history.seconds), "init_output_bias": True,
        "threads": args.threads, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
        "interrupted": history.interrupted,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__}",
    })
    partial.unlink()
    print(f"{len(history.seconds)} of {args.epochs} epochs in {cpu / 60:.1f} CPU min ({wall / 60:.1f} min wall); "
          f"final test −ELBO "
          f"{history.test_loss[-1]:.2f} nats (binarized test digits, one z per image); wrote {args.out}")


if __name__ == "__main__":
    main()
