"""Out-of-distribution images for the density-estimation test of lesson 11: does p(x) know a digit?

Derived in notebooks/01_generative_models.ipynb (section 4: noise, letters, inverted, shifted and blank
images) and extended in notebooks/11_three_uses.ipynb with rotated digits and scikit-learn's 8×8 digits
(other writers, another scanner), upscaled to MNIST's 20×20 box in a 28×28 frame. Every set is made
offline from MNIST's test digits, the fonts that ship with matplotlib and the digits that ship with
scikit-learn, and binarized like the in-distribution digits: each pixel on with probability its grey level.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .checks import check_count, flatten_pixels
from .data import binarize_dynamic

# Fonts that ship with matplotlib (its data folder), so the letters look the same on every machine.
FONTS = ("DejaVuSans-Bold", "DejaVuSans", "DejaVuSerif-Bold", "DejaVuSerif", "DejaVuSansMono-Bold",
         "DejaVuSans-Oblique", "STIXGeneralBol", "cmr10")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def render_letters(fonts: tuple[str, ...] = FONTS, size: int = 20) -> torch.Tensor:
    """The 26 capital letters in each font, white on black, grey levels in [0, 1], (len(fonts) * 26, 28, 28)."""
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    images = []
    for name in fonts:
        path = folder / f"{name}.ttf"
        if not path.is_file():
            raise ValueError(f"no font {name}.ttf in matplotlib's fonts ({folder}); choose from "
                             f"{sorted(p.stem for p in folder.glob('*.ttf'))}")
        font = ImageFont.truetype(str(path), size)
        for character in LETTERS:
            image = Image.new("L", (28, 28), 0)
            ImageDraw.Draw(image).text((14, 14), character, fill=255, font=font, anchor="mm")
            images.append(torch.tensor(np.array(image), dtype=torch.float32) / 255)
    return torch.stack(images)


def sklearn_digits_28() -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's 1,797 bundled 8×8 digits (grey 0–16) as MNIST-like 28×28 grey images in [0, 1], and labels.

    MNIST centres each digit in a 20×20 box inside a 28×28 frame: the 8×8 image is upscaled to 20×20
    (bilinear, antialiased) and padded by 4 pixels on every side.
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16  # (1797, 1, 8, 8)
    x = torch.nn.functional.interpolate(x, size=(20, 20), mode="bilinear", antialias=True, align_corners=False)
    x = torch.nn.functional.pad(x.clamp(0, 1), (4, 4, 4, 4))  # (1797, 1, 28, 28)
    return x, torch.tensor(digits.target, dtype=torch.int64)


def ood_sets(test_grey: torch.Tensor, generator: torch.Generator, num_images: int = 1000) -> dict[str, torch.Tensor]:
    """Binary out-of-distribution images, {name: (n, 784)}: up to `num_images` each (26 per font of letters).

    `test_grey` are grey test digits that are NOT among the in-distribution images being scored (the
    shifted, rotated and inverted sets are made from them). The generator (on the CPU) makes every binarization.
    """
    check_count(num_images, "num_images")
    grey = flatten_pixels(test_grey, 784, "test_grey").view(-1, 28, 28)[:num_images].cpu()  # (n, 28, 28)
    if len(grey) < num_images:
        raise ValueError(f"test_grey holds {len(grey)} images, fewer than num_images = {num_images}: pass more "
                         "test digits (ones not scored as in-distribution) or ask for fewer")
    ink = binarize_dynamic(grey, generator).mean().item()  # the fraction of pixels a binarized digit has on

    def binary(images: torch.Tensor) -> torch.Tensor:
        return binarize_dynamic(images.clamp(0, 1), generator).flatten(1)

    sklearn_grey, _ = sklearn_digits_28()
    return {
        "sklearn digits (8×8)": binary(sklearn_grey[:num_images]),
        "shifted 4 px": binary(torch.roll(grey, shifts=4, dims=2)),
        "rotated 90°": binary(torch.rot90(grey, 1, dims=(1, 2))),
        "rotated 180°": binary(torch.rot90(grey, 2, dims=(1, 2))),
        "letters": binary(render_letters()),
        "inverted": binary(1 - grey),
        "sparse noise": torch.bernoulli(torch.full((num_images, 784), ink), generator=generator),
        "noise": torch.bernoulli(torch.full((num_images, 784), 0.5), generator=generator),
        "blank": torch.zeros(1, 784),
    }
