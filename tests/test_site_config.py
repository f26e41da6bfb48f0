"""The website's configuration, its publishing workflow and Binder's files, read without building anything.

site/conf.py's notebook pass (alt text, widgets), which pages the site reads, and the files that publish it:
the GitHub Actions workflow builds with the README's site command and deploys to Pages, and Binder installs
PyTorch's CPU wheels and then the course. tests/test_site.py checks the built site itself in a browser.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from course_utils.runtime import BRANCH
from tools.build import EXERCISES, ROOT, SITE, SITE_COMMAND, SITE_HTML, lesson_notebooks, site_pages

pytestmark = pytest.mark.unit

WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"
BINDER = ROOT / ".binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _conf():
    spec = importlib.util.spec_from_file_location("site_conf", SITE / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conf = _conf()


def _image(alt=None, count: int = 1, widget: bool = False) -> dict:
    outputs = [{"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo=", "text/plain": ""}}
               for _ in range(count)]
    outputs.insert(1, {"output_type": "stream", "name": "stdout", "text": "between\n"})
    if widget:
        outputs.append({"output_type": "display_data", "metadata": {},
                        "data": {conf.WIDGET_VIEW: {"model_id": "abc"}, "text/plain": "VBox()"}})
    metadata = {"mystnb": {"image": {"alt": alt}}} if alt is not None else {}
    return {"cell_type": "code", "id": "c1", "metadata": metadata, "source": "plot()", "outputs": outputs,
            "execution_count": 1}


def _notebook(*cells) -> dict:
    return {"cells": [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# T"}, *cells],
            "metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {"abc": {}}}}}}


def test_a_figure_without_alt_text_stops_the_build_naming_the_cell():
    for cell in (_image(), _image(alt="  "), _image(alt=["one"], count=2), _image(alt="one", count=2)):
        with pytest.raises(ValueError, match=r"lesson\.ipynb, cell 1: .* mystnb\.image\.alt"):
            conf.site_notebook(_notebook(cell), "lesson")


def test_a_cell_with_several_figures_becomes_one_cell_per_figure_with_its_own_alt_text():
    nb = conf.site_notebook(_notebook(_image(alt=["first figure", "second figure"], count=2)), "lesson")
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert [c["metadata"]["mystnb"]["image"]["alt"] for c in code] == ["first figure", "second figure"]
    assert [len(c["outputs"]) for c in code] == [1, 2]  # the text printed between the figures stays between
    assert "remove-input" not in code[0]["metadata"].get("tags", []) and "remove-input" in code[1]["metadata"]["tags"]
    assert len({c["id"] for c in nb["cells"]}) == len(nb["cells"])


def test_a_widget_view_becomes_a_note_and_its_saved_state_is_dropped():
    nb = conf.site_notebook(_notebook(_image(alt="a figure", widget=True)), "lesson")
    assert "widgets" not in nb["metadata"]
    outputs = nb["cells"][1]["outputs"]
    assert outputs[-1]["data"] == {"text/markdown": conf.WIDGET_NOTE}
    assert not any(conf.WIDGET_VIEW in o.get("data", {}) for o in outputs)


def test_the_live_explorer_replaces_its_widget_and_nothing_else_is_live():
    cell = _image(alt="a figure", widget=True)
    cell["metadata"]["site"] = {"live": "explorer_2d"}
    outputs = conf.site_notebook(_notebook(cell), "lesson")["cells"][1]["outputs"]
    assert outputs[-1]["data"] == {"text/html": conf.LIVE_EXPLORER}
    cell["metadata"]["site"] = {"live": "sampling"}
    with pytest.raises(ValueError, match="lesson.ipynb, cell 1: site.live is 'sampling'"):
        conf.site_notebook(_notebook(cell), "lesson")
    live = [(nb.stem, i) for nb in lesson_notebooks()
            for i, c in enumerate(json.loads(nb.read_text(encoding="utf-8"))["cells"]) if "site" in c["metadata"]]
    assert [stem for stem, _ in live] == ["07_latent_space"], live


def test_the_exported_decoders_are_the_shipped_ones(tmp_path):
    # the layout explorer.js reads: per layer, the weight (out, in) row by row, then the bias, float32 little-endian
    import numpy as np
    import torch

    from course_utils.checkpoint import load_pretrained
    from course_utils.latent_space import decode_images

    manifest = conf.export_decoders(tmp_path)
    assert json.loads((tmp_path / "decoders.json").read_text(encoding="utf-8")) == json.loads(json.dumps(manifest))
    z = torch.tensor([[0.5, -0.3], [-2.0, 1.5]])
    for entry in manifest["models"]:
        weights, offset, x = np.fromfile(tmp_path / entry["file"], dtype="<f4"), 0, z.numpy().astype(np.float64)
        for i, (outputs, inputs) in enumerate(entry["layers"]):
            w = weights[offset:offset + outputs * inputs].reshape(outputs, inputs)
            b = weights[offset + outputs * inputs:offset + outputs * inputs + outputs]
            offset += outputs * inputs + outputs
            x = x @ w.T + b
            x = 1 / (1 + np.exp(-x)) if i == len(entry["layers"]) - 1 else np.maximum(x, 0)
        assert offset == weights.size, f"{entry['file']}: {weights.size - offset} numbers left over"
        model, _ = load_pretrained(entry["name"], device="cpu")
        np.testing.assert_allclose(x, decode_images(model, z).double().numpy(), atol=1e-5)


@pytest.mark.parametrize("notebook", lesson_notebooks(), ids=lambda p: p.stem)
def test_every_lesson_figure_has_alt_text(notebook):
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    images = [o for c in nb["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    shown = conf.site_notebook(copy.deepcopy(nb), notebook.stem)  # raises, naming the cell, on a missing alt
    alts = [c["metadata"]["mystnb"]["image"]["alt"] for c in shown["cells"]
            for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(alts) == len(images) and all(isinstance(a, str) and len(a.split()) >= 5 for a in alts), alts


def test_the_site_reads_the_lessons_and_student_exercises_never_the_solutions():
    read = {p for pattern in conf.include_patterns for p in ROOT.glob(pattern)}
    assert read == {page.notebook for page in site_pages()} | {SITE / "index.md"}
    assert not read & set(EXERCISES.glob("*.ipynb")), "the exercise sources hold solutions and hidden tests"


def test_the_contents_list_every_page_in_lesson_map_order():
    entries = re.findall(r"<(/[^>]+)>", conf.toctree())
    assert entries == [f"/{page.docname}" for page in site_pages()]


def _readme_bash_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return [line.strip() for block in re.findall(r"^```bash\n(.*?)^```", readme, flags=re.S | re.M)
            for line in block.splitlines()]


def test_readme_ci_and_workflow_build_the_site_with_one_command():
    assert SITE_COMMAND.startswith("python -m sphinx ") and SITE_COMMAND.endswith(
        " . " + SITE_HTML.relative_to(ROOT).as_posix())
    assert ".venv/bin/" + SITE_COMMAND in _readme_bash_lines(), "the README's site command is not tools/build.py's"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ".venv/bin/" + SITE_COMMAND in [line.strip() for line in ci], ".ci/run does not build the site"
    runs = [step.get("run", "") for step in _workflow()["jobs"]["build"]["steps"]]
    assert SITE_COMMAND in [line.strip() for run in runs for line in run.splitlines()]
    assert "site/_build/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _uses(steps: list[dict], action: str) -> dict:
    found = [step for step in steps if step.get("uses", "").split("@")[0] == action]
    assert len(found) == 1, f"the workflow should use {action} once, found {found}"
    return found[0]


def test_the_workflow_builds_on_the_main_branch_and_deploys_to_pages():
    workflow = _workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert BRANCH in triggers["push"]["branches"]
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    _uses(build["steps"], "actions/checkout")
    floor = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    assert str(_uses(build["steps"], "actions/setup-python")["with"]["python-version"]) == floor
    install = [line.strip() for step in build["steps"] for line in step.get("run", "").splitlines()
               if "pip install" in line]
    assert install == [f"python -m pip install torch torchvision --index-url {CPU_INDEX}",
                       'python -m pip install -e ".[site]"'], "CPU wheels first, then the course with the site extra"
    artifact = _uses(build["steps"], "actions/upload-pages-artifact")["with"]["path"]
    assert artifact == SITE_HTML.relative_to(ROOT).as_posix()
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    _uses(deploy["steps"], "actions/deploy-pages")


def _requirements(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_binder_installs_pytorch_cpu_wheels_then_the_course():
    assert _requirements(BINDER / "requirements.txt") == [f"--index-url {CPU_INDEX}", "torch", "torchvision"]
    commands = [line for line in _requirements(BINDER / "postBuild") if not line.startswith("set ")]
    assert commands == ['python -m pip install --no-cache-dir -e .'], commands
    assert (BINDER / "postBuild").read_text(encoding="utf-8").startswith("#!/bin/bash\n")
    floor = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    assert _requirements(BINDER / "runtime.txt") == [f"python-{floor}"]


def test_binder_postbuild_is_executable_in_git():
    # Binder runs postBuild only if it is executable; git records that bit (a Windows checkout does not show it)
    try:
        proc = subprocess.run(["git", "ls-files", "-s", ".binder/postBuild"], cwd=ROOT, capture_output=True,
                              text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("no git to read the file mode from")
    if proc.returncode != 0 or not proc.stdout.strip():
        pytest.skip(f"not a git checkout, or postBuild not committed yet: {proc.stderr.strip()}")
    assert proc.stdout.split()[0] == "100755", f".binder/postBuild is not executable in git: {proc.stdout}"
