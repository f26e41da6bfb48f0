"""Lesson 07's widgets: thin ipywidgets views over `course_utils.latent_space`, one image redrawn in place.

Each view lays out a figure once (`widget_canvas.Canvas`); a control change only decodes a few codes,
pastes them, marks points on the maps and sends one PNG: no figure is rebuilt per event. The numbers
each update computed are kept in `view.state`, so tests check them without a browser. Views that draw at
random take a `torch.Generator` (None: PyTorch's global generator), like every sampler of the course.

Derived in notebooks/07_latent_space.ipynb.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import latent_space as ls
from ..plots import scatter_codes, tile
from .canvas import BLACK, RED, Canvas, LatentView, assemble, figure, index_box, slider, slot


def explorer_2d(models: dict[str, nn.Module], codes: dict[str, torch.Tensor], labels: torch.Tensor) -> LatentView:
    """Two sliders move one point across each model's 2-D map (the box of its codes); each decodes it live."""
    if set(models) != set(codes) or any(c.shape[1] != 2 for c in codes.values()):
        raise ValueError("give the same names in models and codes, and 2-D codes (N, 2) for each model")
    fig = figure(4.6 * len(models), 3.3)
    grid = fig.add_gridspec(1, 2 * len(models), width_ratios=[3, 1.4] * len(models), wspace=0.25, bottom=0.15)
    maps, slots, boxes, spacing = {}, {}, {}, {}
    for k, (name, z) in enumerate(codes.items()):
        maps[name], slots[name] = fig.add_subplot(grid[0, 2 * k]), fig.add_subplot(grid[0, 2 * k + 1])
        scatter_codes(maps[name], z, labels, colorbar=False, s=1)  # digits written at their classes' medians
        boxes[name] = (z.min(0).values, z.max(0).values)
        pad = 0.03 * (boxes[name][1] - boxes[name][0])  # a margin, so points on the box's edge are not cut
        maps[name].set_xlim(boxes[name][0][0].item() - pad[0].item(), boxes[name][1][0].item() + pad[0].item())
        maps[name].set_ylim(boxes[name][0][1].item() - pad[1].item(), boxes[name][1][1].item() + pad[1].item())
        maps[name].set_title(f"{name}: codes of test digits", fontsize=9)
        slot(slots[name], "decode(z)")
        spacing[name] = ls.code_spacing(z).median().item()  # typical distance between neighbouring real codes
    canvas, state = Canvas(fig), {}

    def update(c) -> str:
        lines = []
        for name, model in models.items():
            low, high = boxes[name]
            u = torch.tensor([c["u1"].value, c["u2"].value])
            z = (low + u * (high - low))[None]  # (1, 2): the same place in each model's box
            image = ls.decode_images(model, z)[0].view(28, 28)
            canvas.paste(slots[name], image)
            canvas.mark(maps[name], z, RED, radius=7, width=1)
            distance = ls.nearest_neighbours(z, codes[name])[0].item()
            state[name] = {"z": z[0], "image": image, "distance": distance}
            lines.append(f"<b>{name}</b>: z = ({z[0, 0]:.2f}, {z[0, 1]:.2f}); nearest test code at distance "
                         f"{distance:.2f} = {distance / spacing[name]:.1f}× the median spacing of real codes")
        return "<br>".join(lines)

    controls = [("u1", slider("z₁ (left → right of each box)", 0.5, 0.0, 1.0, 0.01)),
                ("u2", slider("z₂ (bottom → top)", 0.5, 0.0, 1.0, 0.01))]
    return assemble(controls, canvas, update, "course-explorer", state)


def interpolation_view(models: dict[str, nn.Module], x: torch.Tensor, methods: tuple[str, ...] = ls.METHODS,
                       num_steps: int = 9, pair: tuple[int, int] = (0, 1),
                       generator: torch.Generator | None = None) -> LatentView:
    """Pick two images (or a random pair); an alpha slider walks between their codes, one row per model x method."""
    rows = [(name, method) for name in models for method in methods]
    fig = figure(9.6, 1.15 * len(rows) + 0.2)
    grid = fig.add_gridspec(len(rows), 2, width_ratios=[num_steps, 1.15], hspace=0.45, wspace=0.05)
    strips, slots = [], []
    for i, (name, method) in enumerate(rows):
        strips.append(fig.add_subplot(grid[i, 0]))
        slots.append(fig.add_subplot(grid[i, 1]))
        slot(strips[-1], f"{name}, {method}: {num_steps} steps from the first code to the second", num_steps)
        slot(slots[-1], "at α")
    canvas, state = Canvas(fig), {}

    def update(c) -> str:
        alpha = c["alpha"].value
        ends = x[[c["first"].value, c["second"].value]]  # (2, 784)
        lines = []
        for i, (name, method) in enumerate(rows):
            z0, z1 = ls.encode_dataset(models[name], ends)
            path = ls.interpolate(z0, z1, num_steps, method)  # (num_steps, latent_dim)
            here = (ls.slerp(z0, z1, alpha) if method == "spherical" else torch.lerp(z0, z1, alpha))[None]
            images = ls.decode_images(models[name], torch.cat([path, here]))
            canvas.paste(strips[i], tile(images[:num_steps], num_steps))
            canvas.paste(slots[i], images[-1].view(28, 28))
            state[(name, method)] = {"path": path, "z": here[0], "image": images[-1]}
            lines.append(f"{name}, {method}: |z| = {z0.norm():.2f} → {here.norm():.2f} at α = {alpha:.2f} → "
                         f"{z1.norm():.2f}")
        return "<br>".join(lines)

    def random_pair(_button) -> None:
        first, second = torch.randperm(len(x), generator=generator)[:2].tolist()
        controls[0][1].value, controls[1][1].value = first, second

    import ipywidgets as w

    button = w.Button(description="random pair")
    controls = [("first", index_box("first digit", pair[0], len(x))), ("second", index_box("second", pair[1], len(x))),
                ("alpha", slider("α", 0.5, 0.0, 1.0, 0.05))]
    view = assemble(controls, canvas, update, "course-interpolation", state)
    button.on_click(random_pair)
    view.controls["random pair"] = button
    view.widget.children[0].children += (button,)
    return view


def traversal_view(model: nn.Module, x: torch.Tensor, order: list[int], kl: torch.Tensor, activity: torch.Tensor,
                   values: torch.Tensor | None = None, index: int = 0, threshold: float = 0.01) -> LatentView:
    """Choose a dimension (ordered by its average KL) and a value: decode the chosen digit's code with z_d changed."""
    values = torch.linspace(-3, 3, 9) if values is None else values
    fig = figure(9.6, 1.5)
    grid = fig.add_gridspec(1, 3, width_ratios=[1.2, len(values), 1.2], wspace=0.08)
    original, strip, current = (fig.add_subplot(grid[0, k]) for k in range(3))
    slot(original, "the digit")
    slot(strip, f"decode(z) with z_d = {values[0]:.1f} … {values[-1]:.1f}, the other coordinates = μ(x)", len(values))
    slot(current, "z_d = slider")
    canvas, state = Canvas(fig), {}

    def update(c) -> str:
        d, value = c["dim"].value, c["value"].value
        mu = ls.encode_dataset(model, x[c["index"].value][None])[0]  # (latent_dim,)
        codes = ls.traverse(mu, d, torch.cat([values, torch.tensor([value])]))
        images = ls.decode_images(model, codes)
        canvas.paste(original, x[c["index"].value].view(28, 28))
        canvas.paste(strip, tile(images[:-1], len(values)))
        canvas.paste(current, images[-1].view(28, 28))
        change = (images[:-1].max(0).values - images[:-1].min(0).values).max().item()  # 0: z_d does nothing
        state.update(codes=codes, image=images[-1], change=change)
        status = "active" if activity[d] > threshold else "inactive"
        return (f"z<sub>{d}</sub>: average KL {kl[d]:.3f} nats, Var<sub>x</sub>[μ<sub>{d}</sub>(x)] = "
                f"{activity[d]:.4f} → <b>{status}</b>; largest change of a pixel along the strip {change:.3f}")

    import ipywidgets as w

    options = [(f"z{d} (KL {kl[d]:.2f} nats)", d) for d in order]
    controls = [("index", index_box("digit", index, len(x))),
                ("dim", w.Dropdown(options=options, value=order[0], description="dimension")),
                ("value", slider("z_d", 0.0, float(values[0]), float(values[-1]), 0.1))]
    return assemble(controls, canvas, update, "course-traversal", state)


def posterior_view(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, num_draws: int = 7, index: int = 0,
                   generator: torch.Generator | None = None) -> LatentView:
    """Pick a test image: its q(z|x) 2-sigma ellipse and `num_draws` draws on the 2-D map, and the draws decoded."""
    mu, logvar = ls.encode_posterior(model, x)
    fig = figure(9.6, 3.4)
    columns = (num_draws + 2) // 2  # the image and its draws, in two rows
    grid = fig.add_gridspec(2, 1 + columns, width_ratios=[2 * columns, *[1] * columns],
                            wspace=0.1, hspace=0.3, bottom=0.16)  # bottom: room for the map's z_1 label
    scatter = fig.add_subplot(grid[:, 0])
    scatter_codes(scatter, mu, labels, colorbar=False, s=1)
    scatter.set_title("means μ(x) of the test set; the chosen q(z|x)", fontsize=9)
    draws_axes = [fig.add_subplot(grid[r, 1 + k]) for r in range(2) for k in range(columns)][: 1 + num_draws]
    for k, ax in enumerate(draws_axes):
        slot(ax, "x" if k == 0 else f"draw {k}")
    canvas, state = Canvas(fig), {}

    def update(c) -> str:
        i = c["index"].value
        z = mu[i] + (0.5 * logvar[i]).exp() * torch.randn(num_draws, 2, generator=generator)  # z ~ q(z|x)
        images = ls.decode_images(model, z)
        canvas.mark(scatter, z, RED, radius=2, width=0)
        canvas.mark(scatter, ls.posterior_ellipse(mu[i], logvar[i], num_std=2.0, num_points=240), BLACK, 0, 0)
        canvas.paste(draws_axes[0], x[i].view(28, 28))
        for ax, image in zip(draws_axes[1:], images, strict=True):
            canvas.paste(ax, image.view(28, 28))
        state.update(z=z, images=images)
        sigma = (0.5 * logvar[i]).exp()
        return (f"test digit {i} (label {int(labels[i])}): μ = ({mu[i, 0]:.2f}, {mu[i, 1]:.2f}), "
                f"σ = ({sigma[0]:.3f}, {sigma[1]:.3f}); black: the 2σ ellipse of q(z|x), red: {num_draws} draws")

    import ipywidgets as w

    controls = [("index", index_box("test digit", index, len(x))), ("redraw", w.Button(description="new draws"))]
    return assemble(controls, canvas, update, "course-posterior", state)


def sampling_view(model: nn.Module, train_x: torch.Tensor, num_samples: int = 8,
                  generator: torch.Generator | None = None) -> LatentView:
    """A temperature slider for prior samples z = T * eps; under each sample, its nearest training image."""
    fig = figure(9.6, 2.6)
    grid = fig.add_gridspec(2, 1, hspace=0.35)
    top, bottom = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    slot(top, "samples: sigmoid(decode(z)), z = T·ε, ε ~ N(0, I)", num_samples)
    slot(bottom, "the nearest training image of each (Euclidean distance in pixel space)", num_samples)
    canvas, state = Canvas(fig), {}
    eps = {"value": torch.randn(num_samples, model.config.latent_dim, generator=generator)}
    train_flat = train_x.flatten(1).float().cpu()
    train_sq = train_flat.pow(2).sum(1)  # computed once: each event only needs one matrix product

    def update(c) -> str:
        z = c["temperature"].value * eps["value"]
        samples = ls.decode_images(model, z)  # (num_samples, 784)
        distances, indices = ls.nearest_neighbours(samples, train_flat, reference_sq_norms=train_sq)
        canvas.paste(top, tile(samples, num_samples))
        canvas.paste(bottom, tile(train_x[indices].cpu(), num_samples))
        state.update(z=z, samples=samples, distances=distances, indices=indices)
        return (f"T = {c['temperature'].value:.2f}: distance to the nearest of {len(train_x):,} training images "
                + ", ".join(f"{d:.1f}" for d in distances.tolist()))

    def new_draws(_button) -> None:
        eps["value"] = torch.randn(num_samples, model.config.latent_dim, generator=generator)

    import ipywidgets as w

    button = w.Button(description="new draws")
    button.on_click(new_draws)  # registered first: new noise, then the redraw that canvas.assemble wires
    controls = [("temperature", slider("temperature T", 1.0, 0.0, 2.0, 0.05)), ("redraw", button)]
    return assemble(controls, canvas, update, "course-sampling", state)
