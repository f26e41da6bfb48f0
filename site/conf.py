"""Sphinx configuration of the course website: the committed, executed notebooks as pages (nothing re-runs).

Build (from the repository root; `.ci/run` and the Pages workflow run the same line):

    python -m sphinx -b html -c site . site/_build/html

The source folder is the repository root, so a page's address mirrors the notebook's path
(notebooks/06_vae.ipynb -> notebooks/06_vae.html) and the notebooks' links to each other work unchanged.
Only the lessons, the student exercises (never the sources with solutions) and site/index.md are read.
The table of contents is made here from tools/build.py, in the README's lesson-map order, so a new lesson
is on the site as soon as it is in the lesson map. Each notebook passes through `site_notebook` on its way
to myst-nb: a figure without alt text fails the build, and a widget's saved view (which needs a kernel)
becomes a note pointing at the launch buttons, except lesson 07's 2-D explorer, which runs live on the page
(site/static/explorer.js, with the shipped 2-D decoders' weights that the build exports).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tools/ and this checkout's course_utils

from course_utils.runtime import BRANCH, REPOSITORY  # noqa: E402
from tools.build import ROOT as BUILD_ROOT  # noqa: E402
from tools.build import site_pages, site_url  # noqa: E402

if BUILD_ROOT != ROOT:
    raise RuntimeError(f"site/conf.py is in {ROOT} but imported tools/build.py from {BUILD_ROOT}")

project = "Generative Models & VAEs"
author = "the course authors"
copyright = "the course authors, MIT licence"  # noqa: A001 (Sphinx's name)
root_doc = "site/index"
extensions = ["myst_nb", "sphinx-mathjax-offline"]  # MathJax is served with the site: no CDN needed to read it
include_patterns = ["site/index.md", "notebooks/[0-9][0-9]_*.ipynb", "notebooks/exercises/student/*.ipynb"]
exclude_patterns = [".venv", ".git", "site/_build", "**/.ipynb_checkpoints", "notebooks/exercises/dist"]
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # the committed outputs are the pages: a full run takes hours
nb_ipywidgets_js = {}  # widgets' saved views are replaced (see site_notebook); load no widget JavaScript
nb_merge_streams = True
suppress_warnings = ["myst.header"]  # notebooks may start at '##' after their '#' title cell

html_theme = "sphinx_book_theme"
html_title = project
html_baseurl = site_url()
html_static_path = ["static"]  # the live 2-D explorer of lesson 07 (explorer.js), its style
html_js_files = ["explorer.js"]
html_css_files = ["explorer.css"]
html_additional_pages = {"index": "redirect.html"}  # the site's root address opens site/index.html
templates_path = ["templates"]
html_theme_options = {
    "repository_url": f"https://github.com/{REPOSITORY}",
    "repository_branch": BRANCH,
    "path_to_docs": "",
    "use_repository_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com", "binderhub_url": "https://mybinder.org",
                       "notebook_interface": "jupyterlab"},
    "show_toc_level": 2,
}

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# Lesson 07's 2-D explorer also runs live on its page: a cell whose metadata says {"site": {"live": "explorer_2d"}}
# shows, in place of the note, a panel that explorer.js fills with two sliders and the shipped 2-D decoders'
# images, computed in the browser from the weights `export_decoders` writes next to it.
LIVE_DECODERS = {"ae_latent2": "autoencoder", "vae_latent2": "VAE"}  # shipped checkpoint -> name on the page
LIVE_RANGE = (-3.0, 3.0, 0.05)  # each slider's z: the prior's +-3 standard deviations, in steps of 0.05
LIVE_EXPLORER = ('<div class="course-live-explorer"><p><strong>Live, in your browser:</strong> the shipped 2-D '
                 "decoders of the autoencoder and the VAE, evaluated by this page's JavaScript at the code "
                 "z = (z₁, z₂) the sliders set, from −3 to 3 in each coordinate.</p>"
                 '<p class="course-live-status">Loading the decoders…</p></div>')
WIDGET_NOTE = ("*An interactive widget was here. It needs a running Python kernel: open this notebook in Colab or "
               "Binder with the launch button (the rocket at the top of the page) to move its sliders.*")


def toctree() -> str:
    """The site's table of contents: every lesson, each followed by its exercises (tools/build.py's order)."""
    entries = [f"{page.number} · {'Exercise: ' if page.exercise else ''}{page.title} </{page.docname}>"
               for page in site_pages()]
    return "\n```{toctree}\n:maxdepth: 1\n:caption: Lessons and exercises\n\n" + "\n".join(entries) + "\n```\n"


def _image_alts(cell: dict, where: str) -> list[str]:
    """The alt texts of a code cell's image outputs: mystnb.image.alt, a string (one image) or a list (several)."""
    images = [o for o in cell.get("outputs", []) if any(k.startswith("image/") for k in o.get("data", {}))]
    alt = cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt")
    alts = [alt] if isinstance(alt, str) else list(alt or [])
    if len(alts) != len(images) or not all(isinstance(a, str) and a.strip() for a in alts):
        raise ValueError(f"{where}: {len(images)} image output(s) but alt text {alt!r}; give every figure alt text "
                         "that says what it shows in the cell's metadata: mystnb.image.alt (a string, or a list "
                         "with one string per image)")
    return alts


def site_notebook(nb: dict, docname: str) -> dict:
    """The notebook as the site shows it: one alt text per image, widget views replaced by a note."""
    nb["metadata"].pop("widgets", None)  # the widgets' saved state: kilobytes of images no page can use
    cells = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            cells.append(cell)
            continue
        live = cell.get("metadata", {}).get("site", {}).get("live")
        if live not in (None, "explorer_2d"):
            raise ValueError(f"{docname}.ipynb, cell {index}: site.live is {live!r}; the site knows 'explorer_2d'")
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                output["data"] = {"text/html": LIVE_EXPLORER} if live else {"text/markdown": WIDGET_NOTE}
        alts = _image_alts(cell, f"{docname}.ipynb, cell {index}")
        if len(alts) <= 1:
            cells.append(cell)
            continue
        # myst-nb gives all images of a cell the same alt: split the outputs, one image per (input-less) cell
        pieces, current = [], []
        for output in cell["outputs"]:
            current.append(output)
            if any(k.startswith("image/") for k in output.get("data", {})):
                pieces.append(current)
                current = []
        pieces[-1] += current
        for number, (outputs, alt) in enumerate(zip(pieces, alts, strict=True)):
            metadata = {**cell["metadata"], "mystnb": {"image": {"alt": alt}}}
            if number:
                metadata["tags"] = [*metadata.get("tags", []), "remove-input"]
            cells.append({**cell, "metadata": metadata, "outputs": outputs, "id": f"{cell.get('id', index)}-{number}"})
    nb["cells"] = cells
    return nb


def export_decoders(folder: Path) -> dict:
    """Write the live explorer's decoders (float32 weights, then bias, per layer) and their manifest to `folder`."""
    import numpy as np
    from torch import nn

    from course_utils.checkpoint import load_pretrained

    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"range": LIVE_RANGE, "models": []}
    for name, title in LIVE_DECODERS.items():
        model, _ = load_pretrained(name, device="cpu")
        layers = [m for m in model.decoder if isinstance(m, nn.Linear)]
        kinds = [type(m) for m in model.decoder]
        if kinds != [nn.Linear, nn.ReLU] * (len(layers) - 1) + [nn.Linear] or model.config.latent_dim != 2:
            raise ValueError(f"{name}: explorer.js evaluates 2-D decoders of Linear layers with ReLU between them, "
                             f"not {kinds}; change both together")
        parts = [t.detach().numpy().astype("<f4").ravel() for m in layers for t in (m.weight, m.bias)]
        (folder / f"{name}.bin").write_bytes(np.concatenate(parts).tobytes())
        manifest["models"].append({"name": name, "title": title, "file": f"{name}.bin",
                                   "layers": [list(m.weight.shape) for m in layers]})
    (folder / "decoders.json").write_text(json.dumps(manifest), encoding="utf-8")
    return manifest


def _export(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        export_decoders(Path(app.outdir) / "_static" / "explorer")


def _source_read(app, docname: str, source: list[str]) -> None:
    if docname == root_doc:
        source[0] += toctree()
    elif app.env.doc2path(docname).suffix == ".ipynb":
        source[0] = json.dumps(site_notebook(json.loads(source[0]), docname), ensure_ascii=False)


def setup(app) -> None:
    app.connect("source-read", _source_read)
    app.connect("build-finished", _export)
