"""The benchmark scripts run, and report what their docstrings promise (smoke runs on a few images).

Pipeline tier: each starts a fresh interpreter, as a user runs it. The numbers they print are measurements,
not checked here (timings belong in benchmarks, never in assertions); what is checked is that every row
and ratio they promise is there, and that lesson_times records a lesson's time where tools/build.py reads it.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.pipeline

ROOT = Path(__file__).resolve().parent.parent


def _run(script: str, *args: str, env: dict | None = None) -> str:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT, capture_output=True,
                          text=True, encoding="utf-8", timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_evaluation_benchmark_reports_evaluator_loop_and_floor():
    out = _run("evaluation_benchmark.py", "--images", "3", "--k", "40", "--repeats", "1", "--threads", "1")
    for row in ("torch.mm floor", "course evaluator", "plain per-image loop", "evaluator − loop:",
                "whole test set (10,000 digits)"):
        assert row in out, out


def test_training_benchmark_reports_floor_engine_and_reference():
    out = _run("training_benchmark.py", "--images", "512", "--rounds", "1", "--threads", "1")
    for row in ("GEMM-only floor", "course engine (fit)", "DataLoader loop", "÷ floor"):
        assert row in out, out


def test_lesson_times_records_each_lesson_for_the_lesson_map(tmp_path):
    # A one-cell "lesson" in a folder of its own, timed by the script as it times the real ones.
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    notebook = {"cells": [{"cell_type": "code", "execution_count": None, "id": "a", "metadata": {}, "outputs": [],
                           "source": ["import os\n", "print(os.environ.get('COURSE_FAST', 'full mode'))"]}],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    (lessons / "00_tiny.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    script = (f"import sys; sys.argv = ['lesson_times.py', '00', '--out', {str(tmp_path / 'out')!r}]\n"
              f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import lesson_times as t\n"
              f"from pathlib import Path; t.NOTEBOOKS = Path({str(lessons)!r}); "
              f"t.RESULTS = Path({str(tmp_path / 'times.json')!r}); t.main()")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, encoding="utf-8",
                          timeout=300, env={**os.environ, "COURSE_FAST": "1", "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    times = json.loads((tmp_path / "times.json").read_text(encoding="utf-8"))
    assert set(times) == {"cpu"} and set(times["cpu"]["lessons"]) == {"00_tiny"}
    assert times["cpu"]["lessons"]["00_tiny"] >= 0 and "CPU cores" in times["cpu"]["machine"]
    executed = json.loads((tmp_path / "out" / "00_tiny.ipynb").read_text(encoding="utf-8"))
    assert "".join(executed["cells"][0]["outputs"][0]["text"]) == "full mode\n"  # COURSE_FAST was unset: full mode


def test_every_shipped_model_records_the_recipe_that_made_it():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import train_shipped
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    from course_utils.train import CHECKPOINTS, load_pretrained

    for name, recipe in train_shipped.RECIPES.items():
        assert (CHECKPOINTS / f"{name}.pt").is_file(), f"{name} has a recipe but no shipped checkpoint"
        model, history = load_pretrained(name, device="cpu")
        config = history.config
        made = (config.epochs, config.batch_size, config.lr, config.schedule, config.binarize, config.warmup_epochs,
                config.free_bits, config.iw_samples, config.beta, model.config.latent_dim, model.config.hidden_dim)
        assert made == (recipe.epochs, recipe.batch_size, recipe.lr, recipe.schedule, recipe.binarize,
                        recipe.warmup_epochs, recipe.free_bits, recipe.iw_samples, recipe.beta,
                        recipe.sizes.get("latent_dim", model.config.latent_dim),
                        recipe.sizes.get("hidden_dim", model.config.hidden_dim)), name
        assert len(history.train_loss) == recipe.epochs, f"{name}: training stopped early"


def test_inpainting_table_reports_every_model_beside_pyros_numbers():
    out = _run("inpainting_table.py", "--fast", "--threads", "1")
    for row in ("baseline net (exact)", "CVAE, learned prior (k=20)", "CVAE -ELBO (k=1)", "vae_binarized (k=20)",
                "vae_latent20 (k=20)", "vae_binarized, mixture", "Pyro net (theirs)", "Pyro CVAE -ELBO (theirs)",
                "train seconds per model: given 1"):
        assert row in out, out
