"""How long lesson 07's widgets take to answer a slider move, against rebuilding a matplotlib figure per move.

Each widget's callback is driven the way a browser drives it (setting the slider's value through
ipywidgets), and timed from the value change to the new PNG being set on the image widget. The
reference, measured in the same run on the same machine, is what the views avoid: drawing the same
layout as a new matplotlib figure for every event and saving it as a PNG.

    COURSE_DATA_DIR=/path/to/mnist python benchmarks/widget_latency.py [--events 40] [--threads 1]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from course_utils import latent_space as ls  # noqa: E402
from course_utils.data import load_mnist  # noqa: E402
from course_utils.models import Autoencoder  # noqa: E402
from course_utils.plots import scatter_codes  # noqa: E402
from course_utils.train import load_pretrained  # noqa: E402
from course_utils.widgets import latent_views as lw  # noqa: E402


def time_events(view, control: str, values: list[float]) -> list[float]:
    """Milliseconds from setting `control` to each value until the view's image holds the new PNG."""
    times = []
    for value in values:
        start = time.perf_counter()
        view.controls[control].value = value  # observe -> decode -> paste -> PNG -> image.value
        times.append(1000 * (time.perf_counter() - start))
    return times


def naive_explorer_event(models: dict, codes: dict, labels: torch.Tensor, u: float) -> bytes:
    """The explorer's view rebuilt from scratch: new figure, scatters, decoded images, PNG."""
    fig, axes = plt.subplots(1, 4, figsize=(9.2, 3.3), gridspec_kw={"width_ratios": [3, 1.4, 3, 1.4]})
    for k, (name, model) in enumerate(models.items()):
        low, high = codes[name].min(0).values, codes[name].max(0).values
        z = (low + torch.tensor([u, 0.5]) * (high - low))[None]
        scatter_codes(axes[2 * k], codes[name], labels, colorbar=False, s=1)
        axes[2 * k].plot(z[0, 0], z[0, 1], "r+", markersize=12)
        axes[2 * k + 1].imshow(ls.decode_images(model, z)[0].view(28, 28), cmap="gray", vmin=0, vmax=1)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def summary(times: list[float]) -> str:
    p90 = sorted(times)[int(0.9 * (len(times) - 1))]
    return f"{statistics.median(times):7.1f} ms median, {p90:7.1f} ms 90th percentile"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=40, help="slider moves per widget")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    test_images, test_labels = load_mnist("test")
    train_images, _ = load_mnist("train")
    test_x, train_x = test_images.flatten(1), train_images.flatten(1)
    vae2, _ = load_pretrained("vae_latent2", device="cpu")
    vae20, _ = load_pretrained("vae_latent20", device="cpu")
    torch.manual_seed(0)
    ae2, ae20 = Autoencoder(latent_dim=2), Autoencoder(latent_dim=20)  # untrained: the cost is the same
    models2 = {"autoencoder": ae2, "VAE": vae2}
    codes2 = {name: ls.encode_dataset(m, test_x) for name, m in models2.items()}
    mu20, logvar20 = ls.encode_posterior(vae20, test_x)
    kl20, activity20 = ls.kl_per_dimension(mu20, logvar20), ls.unit_activity(mu20)
    sweep = [round(0.05 + 0.9 * (i % 19) / 18, 2) for i in range(args.events)]  # back and forth over the range

    results = {}
    view = lw.explorer_2d(models2, codes2, test_labels)
    results["2-D explorer (z₁ slider)"] = time_events(view, "u1", sweep)
    view = lw.interpolation_view({"autoencoder": ae20, "VAE": vae20}, test_x)
    results["interpolation (α slider, 4 rows)"] = time_events(view, "alpha", sweep)
    view = lw.traversal_view(vae20, test_x, kl20.argsort(descending=True).tolist(), kl20, activity20)
    results["traversal (value slider)"] = time_events(view, "value", [6 * s - 3 for s in sweep])
    view = lw.posterior_view(vae2, test_x, test_labels)
    results["posterior (index box)"] = time_events(view, "index", list(range(args.events)))
    view = lw.sampling_view(vae20, train_x)
    results[f"sampling (T slider, nearest of {len(train_x):,})"] = time_events(view, "temperature",
                                                                              [2 * s for s in sweep])
    naive = [0.0] * args.events
    for i, u in enumerate(sweep):
        start = time.perf_counter()
        naive_explorer_event(models2, codes2, test_labels, u)
        naive[i] = 1000 * (time.perf_counter() - start)

    print(f"torch threads: {torch.get_num_threads()}; {args.events} events per widget\n")
    print("| widget callback | latency | vs. rebuilding the explorer's figure per event |")
    print("|---|---|---|")
    reference = statistics.median(naive)
    for name, times in results.items():
        print(f"| {name} | {summary(times)} | {statistics.median(times) / reference:.2f}× |")
    print(f"| reference: explorer drawn as a new matplotlib figure per event | {summary(naive)} | 1.00× |")


if __name__ == "__main__":
    main()
