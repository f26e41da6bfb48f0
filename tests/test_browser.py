"""Lessons 07 and 02 in a real browser: JupyterLab 4 driven by Playwright and a system Chromium.

A JupyterLab server starts on a free loopback port, with a token, serving a temporary copy of the two
lessons (so nothing the browser does can touch the committed notebooks). For each lesson the browser
runs all cells in fast mode, moves a slider with the keyboard, and checks that the widget's image (or
plot) really changed and that no widget error is shown. Before/after screenshots go to
tests/artifacts/browser/ (ignored by git). Server and browser are stopped even when a check fails.

Needs Chromium (Debian: `apt-get install chromium`; or set COURSE_CHROMIUM to a Chrome/Chromium
binary) and `pip install playwright` (Playwright's own browser download is not needed). `.ci/run`
installs both, so in CI this test always runs.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tools.build import NOTEBOOKS, ROOT

pytestmark = pytest.mark.pipeline

ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
WIDGET_ERRORS = ("Error displaying widget", "model not found")
RUN_TIMEOUT_S = 240  # one lesson's cells, fast mode, on a busy 2-core machine


def find_chromium() -> str | None:
    """COURSE_CHROMIUM, else the first Chromium or Chrome on PATH."""
    if os.environ.get("COURSE_CHROMIUM"):
        return os.environ["COURSE_CHROMIUM"]
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of lessons 07 and 02; yields (base_url, token); always stopped."""
    chromium = find_chromium()
    how = ("install Chromium (Debian: `apt-get install chromium`) or set COURSE_CHROMIUM to a Chrome/Chromium "
           "binary, and `pip install playwright`; `.ci/run` does both")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        chromium = None
    if chromium is None:
        if os.environ.get("COURSE_REQUIRE_BROWSER"):
            pytest.fail(f"COURSE_REQUIRE_BROWSER is set but the browser test cannot run: {how}")
        pytest.skip(f"no Chromium or no Playwright: {how}")
    tmp = tmp_path_factory.mktemp("lab")
    (tmp / "root" / "notebooks").mkdir(parents=True)
    for name in ("07_latent_space.ipynb", "02_entropy_kl.ipynb"):
        shutil.copy(NOTEBOOKS / name, tmp / "root" / "notebooks" / name)
    settings = tmp / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # every cell in the DOM (no virtual scrolling), so that the page can be searched for widget errors
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "COURSE_FAST": "1", "COURSE_FIGURES_DIR": str(tmp / "figures"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("MPLBACKEND", None)  # the test suite's Agg would turn the kernels' inline plots into text
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={tmp / 'root'}", f"--LabServerApp.user_settings_dir={tmp / 'settings'}",
           f"--LabServerApp.workspaces_dir={tmp / 'workspaces'}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "jupyterlab.log", "w")  # noqa: SIM115 (closed in the finally below)
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("JupyterLab did not start:\n" + (tmp / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.5)
        yield {"base": base, "token": token, "chromium": chromium, "log": tmp / "jupyterlab.log"}
    finally:
        _stop(server)
        log.close()


def _stop(server: subprocess.Popen) -> None:
    """Stop the server and its kernels (its whole process group): politely, then by force."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    try:  # kernels left behind in the group
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=lab["chromium"],
                                     args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield chromium
        finally:
            chromium.close()


NOTEBOOK_DONE = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    if (!panel || !panel.content || !panel.sessionContext.session) return null;
    const kernel = panel.sessionContext.session.kernel;
    const cells = panel.content.model.cells;
    let pending = 0, errors = [];
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== 'code') continue;
        if (!cell.executionCount) pending++;
        for (const out of cell.outputs.toJSON()) {
            if (out.output_type === 'error') errors.push(out.ename + ': ' + out.evalue);
        }
    }
    return {pending: pending, errors: errors, status: kernel ? kernel.status : 'none'};
}"""


def _start_all(page, lab: dict, notebook: str) -> None:
    """Open a lesson in its own page and start running all of its cells (in its own kernel)."""
    page.goto(f"{lab['base']}/lab/tree/notebooks/{notebook}?token={lab['token']}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'",
                           timeout=90_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def _wait_all(page, lab: dict, notebook: str) -> None:
    """Wait until every cell has run and the kernel is idle; fail on a cell error or a time-out."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        state = page.evaluate(NOTEBOOK_DONE)
        if state and state["errors"]:
            raise AssertionError(f"{notebook}: a cell raised in the browser: {state['errors']}")
        if state and state["pending"] == 0 and state["status"] == "idle":
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"{notebook}: cells still running after {RUN_TIMEOUT_S} s: {state}\n"
                                 + lab["log"].read_text()[-2000:])
        time.sleep(1)
    page.wait_for_timeout(1000)  # let the last widget views render


def _no_widget_errors(page, notebook: str) -> None:
    text = page.inner_text(".jp-Notebook")
    found = [e for e in WIDGET_ERRORS if e in text]
    assert not found, f"{notebook}: the page shows {found}"


def _press(page, handle, times: int) -> None:
    """Move a slider's handle with the arrow keys, away from the end it is nearer to."""
    now, low, high = (float(handle.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemin", "aria-valuemax"))
    key = "ArrowLeft" if now - low > high - now else "ArrowRight"
    handle.focus()
    for _ in range(times):
        page.keyboard.press(key)
        page.wait_for_timeout(50)


def _changed(locator, before: bytes, timeout_s: float = 20) -> bytes:
    """The element's screenshot once it differs from `before` (or the last one after the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        after = locator.screenshot()
        if after != before or time.monotonic() > deadline:
            return after
        time.sleep(0.3)


LESSONS = ("07_latent_space.ipynb", "02_entropy_kl.ipynb")


@pytest.fixture(scope="module")
def pages(lab, browser):
    """One page per lesson, all started at once: the two kernels run side by side."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    opened = {}
    try:
        for notebook in LESSONS:
            opened[notebook] = browser.new_page(viewport={"width": 1400, "height": 1000})
            _start_all(opened[notebook], lab, notebook)
        yield opened
    finally:
        for notebook, page in opened.items():
            page.screenshot(path=str(ARTIFACTS / f"{notebook[:2]}-final-page.png"))
            page.close()


def test_lesson_07_explorer_redraws_when_a_slider_moves(lab, pages):
    page = pages["07_latent_space.ipynb"]
    _wait_all(page, lab, "07_latent_space.ipynb")
    _no_widget_errors(page, "07_latent_space.ipynb")
    explorer = page.locator(".course-explorer").first
    image, readout = explorer.locator("img.course-latent-image"), explorer.locator(".widget-html-content")
    image.scroll_into_view_if_needed()
    before, text_before, src_before = image.screenshot(), readout.inner_text(), image.get_attribute("src")
    (ARTIFACTS / "07_explorer_before.png").write_bytes(before)
    _press(page, explorer.locator(".noUi-handle").first, 10)  # the z_1 slider
    after = _changed(image, before)
    (ARTIFACTS / "07_explorer_after.png").write_bytes(after)
    assert after != before, "the decoded image did not change after moving the z_1 slider"
    assert image.get_attribute("src") != src_before and readout.inner_text() != text_before
    _no_widget_errors(page, "07_latent_space.ipynb")
    for css in (".course-interpolation", ".course-traversal", ".course-posterior", ".course-sampling"):
        assert page.locator(f"{css} img.course-latent-image").count() >= 1, f"{css} did not render"


def test_lesson_02_playground_redraws_when_a_slider_moves(lab, pages):
    page = pages["02_entropy_kl.ipynb"]
    _wait_all(page, lab, "02_entropy_kl.ipynb")
    _no_widget_errors(page, "02_entropy_kl.ipynb")
    playground = page.locator(".widget-vbox:has(.widget-slider):has(.widget-output)").first
    plot = playground.locator(".widget-output").first
    readout = playground.locator(".widget-html-content").first
    plot.scroll_into_view_if_needed()
    before, text_before = plot.screenshot(), readout.inner_text()
    (ARTIFACTS / "02_playground_before.png").write_bytes(before)
    _press(page, playground.locator(".noUi-handle").first, 10)  # p(x=1)
    after = _changed(plot, before)
    (ARTIFACTS / "02_playground_after.png").write_bytes(after)
    assert after != before, "the playground's plot did not change after moving a slider"
    assert readout.inner_text() != text_before, "the playground's numbers did not change"
    _no_widget_errors(page, "02_entropy_kl.ipynb")
