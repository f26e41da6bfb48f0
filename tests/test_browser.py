"""Lessons 07 and 02 in a real browser: JupyterLab 4 driven by Playwright and a system Chromium.

A JupyterLab server starts on a free loopback port, with a token, serving a temporary copy of the two
lessons (so nothing the browser does can touch the committed notebooks). For each lesson the browser
runs all cells in fast mode, moves a slider with the keyboard, and checks that the widget's image (or
plot) really changed and that no widget error is shown. Before/after screenshots go to
tests/artifacts/browser/ (ignored by git). Server and browser are stopped even when a check fails.
Every wait has its own deadline and a failure names the step it was waiting for; notebooks open with
their kernel directly (JupyterLab's autoStartDefaultKernel), never behind the Select Kernel dialog.

Needs Chromium (Debian: `apt-get install chromium`; or set COURSE_CHROMIUM to a Chrome/Chromium
binary) and `pip install playwright` (Playwright's own browser download is not needed). `.ci/run`
installs both, so in CI this test always runs.
"""

from __future__ import annotations

import contextlib
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
    # Every cell in the DOM (no virtual scrolling), so that the page can be searched for widget errors; and a
    # notebook opens with its kernel (python3, this environment's) without the "Select Kernel" dialog, which
    # JupyterLab shows when it is slow to match the notebook's kernel to the server's (a busy machine).
    tracker = {"windowingMode": "none", "autoStartDefaultKernel": True}
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps(tracker), encoding="utf-8")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "COURSE_FAST": "1", "COURSE_FIGURES_DIR": str(tmp / "figures"),
           "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("MPLBACKEND", None)  # the test suite's Agg would turn the kernels' inline plots into text
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={tmp / 'root'}", f"--LabServerApp.user_settings_dir={tmp / 'settings'}",
           f"--LabServerApp.workspaces_dir={tmp / 'workspaces'}", "--LabApp.expose_app_in_browser=True",
           "--MappingKernelManager.default_kernel_name=python3",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "jupyterlab.log", "w", encoding="utf-8")  # noqa: SIM115 (closed in the finally below)
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + OPEN_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"waiting for JupyterLab to start: not up after {OPEN_TIMEOUT_S} s\n"
                                     + _tail(tmp / "jupyterlab.log", 3000))
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
        with step(f"starting Chromium ({lab['chromium']})"):
            chromium = p.chromium.launch(executable_path=lab["chromium"], timeout=OPEN_TIMEOUT_S * 1000,
                                         args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield chromium
        finally:
            chromium.close()


# Every wait below has its own deadline, and every failure names the step it was waiting for: Playwright's
# page.evaluate has no time-out, so the page is read through wait_for_function (which has one), and the
# Playwright actions run inside `step`, which turns their errors into "<step>: <what happened>".
STEP_TIMEOUT_S = 30  # one Playwright action, or one read of the page
OPEN_TIMEOUT_S = 120  # JupyterLab's page, then its kernel (a busy machine starts both slowly)


@contextlib.contextmanager
def step(what: str):
    """Run Playwright calls; a time-out or error fails the test with `what` (the step) in front."""
    from playwright.sync_api import Error

    try:
        yield
    except Error as err:
        raise AssertionError(f"{what}: {err.message.splitlines()[0]}") from None


def _read(page, function: str, what: str, timeout_s: float = STEP_TIMEOUT_S):
    """The JSON value of the JavaScript `function` run once in the page, or a failure naming `what`."""
    with step(f"{what} (the page did not answer within {timeout_s:.0f} s)"):
        handle = page.wait_for_function(f"() => ({{value: ({function})()}})", timeout=timeout_s * 1000)
        return handle.json_value()["value"]


# The panel of the page's notebook and its kernel's state; what a run has left to do; any visible dialog.
NOTEBOOK_STATE = """() => {
    const dialog = document.querySelector('.jp-Dialog');
    const dialogText = dialog ? dialog.innerText.slice(0, 200) : null;
    const app = window.jupyterapp;
    if (!app) return {phase: 'JupyterLab not loaded', dialog: dialogText};
    let panel = null;
    for (const widget of app.shell.widgets('main')) {
        if (widget.context && widget.context.path.endsWith(NAME)) panel = widget;
    }
    if (!panel) return {phase: 'notebook not open', dialog: dialogText};
    const kernel = panel.sessionContext.session ? panel.sessionContext.session.kernel : null;
    const cells = panel.content.model ? panel.content.model.cells : null;
    let pending = 0, errors = [];
    for (let i = 0; cells && i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== 'code') continue;
        if (!cell.executionCount) pending++;
        for (const out of cell.outputs.toJSON()) {
            if (out.output_type === 'error') errors.push(out.ename + ': ' + out.evalue);
        }
    }
    return {phase: 'open', id: panel.id, status: kernel ? kernel.status : 'no kernel', pending: pending,
            errors: errors, dialog: dialogText};
}"""


def _state(page, notebook: str, what: str) -> dict:
    return _read(page, NOTEBOOK_STATE.replace("NAME", json.dumps(notebook)), what)


def _wait(page, lab: dict, notebook: str, what: str, done, timeout_s: float) -> dict:
    """Poll the notebook's state until `done(state)`; a cell error, or the deadline, fails naming `what`."""
    deadline, state = time.monotonic() + timeout_s, None
    while True:
        state = _state(page, notebook, what)
        if state.get("errors"):
            raise AssertionError(f"{what}: a cell raised in the browser: {state['errors']}")
        if done(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still not done after {timeout_s:.0f} s; the notebook's state: {state}\n"
                                 f"JupyterLab's log ends:\n{_tail(lab['log'], 2000)}")
        if state["dialog"] and "Select Kernel" in state["dialog"]:
            # prevented by autoStartDefaultKernel; should it still appear, take the preselected kernel
            with step(f"{what}: accepting the Select Kernel dialog"):
                page.locator(".jp-Dialog .jp-mod-accept").click(timeout=STEP_TIMEOUT_S * 1000)
        page.wait_for_timeout(500)


def _tail(path, chars: int) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-chars:]


def _start_all(page, lab: dict, notebook: str) -> None:
    """Open a lesson in its own page (and workspace), wait for its kernel, and start running all cells."""
    page.set_default_timeout(STEP_TIMEOUT_S * 1000)  # every Playwright action not given its own
    url = f"{lab['base']}/lab/workspaces/{notebook[:2]}/tree/notebooks/{notebook}?token={lab['token']}"
    with step(f"opening {notebook} in JupyterLab"):
        page.goto(url, timeout=OPEN_TIMEOUT_S * 1000)
    _wait(page, lab, notebook, f"waiting for the kernel of {notebook} to start and be idle",
          lambda s: s["phase"] == "open" and s["status"] == "idle", OPEN_TIMEOUT_S)
    _read(page, f"""() => {{
        const app = window.jupyterapp;
        const name = {json.dumps(notebook)};
        const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path.endsWith(name));
        app.shell.activateById(panel.id);
        // not awaited: the run goes on while _wait_all polls it
        app.commands.execute('notebook:clear-all-cell-outputs').then(
            () => app.commands.execute('notebook:run-all-cells'));
        return true;
    }}""", f"starting Run All in {notebook}")


def _wait_all(page, lab: dict, notebook: str) -> None:
    """Wait until every cell has run and the kernel is idle; fail on a cell error or a time-out."""
    _wait(page, lab, notebook, f"waiting for every cell of {notebook} to run and the kernel to be idle",
          lambda s: s["phase"] == "open" and s["pending"] == 0 and s["status"] == "idle", RUN_TIMEOUT_S)
    page.wait_for_timeout(1000)  # let the last widget views render


def _no_widget_errors(page, notebook: str) -> None:
    with step(f"reading the page of {notebook} for widget errors"):
        text = page.locator(".jp-Notebook").first.inner_text(timeout=STEP_TIMEOUT_S * 1000)
    found = [e for e in WIDGET_ERRORS if e in text]
    assert not found, f"{notebook}: the page shows {found}"


def _press(page, handle, times: int, what: str) -> None:
    """Move a slider's handle with the arrow keys, away from the end it is nearer to."""
    with step(f"moving {what} with the keyboard"):
        now, low, high = (float(handle.get_attribute(a, timeout=STEP_TIMEOUT_S * 1000))
                          for a in ("aria-valuenow", "aria-valuemin", "aria-valuemax"))
        key = "ArrowLeft" if now - low > high - now else "ArrowRight"
        handle.focus(timeout=STEP_TIMEOUT_S * 1000)
        for _ in range(times):
            page.keyboard.press(key)
            page.wait_for_timeout(50)


def _changed(locator, before: bytes, what: str, timeout_s: float = 20) -> bytes:
    """The element's screenshot once it differs from `before` (or the last one after the timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with step(f"taking a screenshot of {what}"):
            after = locator.screenshot(timeout=STEP_TIMEOUT_S * 1000)
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
            with contextlib.suppress(Exception):  # a screenshot of a hung page must not hide the failure
                page.screenshot(path=str(ARTIFACTS / f"{notebook[:2]}-final-page.png"), timeout=10_000)
            page.close()


def test_lesson_07_explorer_redraws_when_a_slider_moves(lab, pages):
    notebook = "07_latent_space.ipynb"
    page = pages[notebook]
    _wait_all(page, lab, notebook)
    _no_widget_errors(page, notebook)
    explorer = page.locator(".course-explorer").first
    image, readout = explorer.locator("img.course-latent-image"), explorer.locator(".widget-html-content")
    with step(f"finding the latent explorer's image and readout in {notebook}"):
        image.scroll_into_view_if_needed()
        before, text_before, src_before = image.screenshot(), readout.inner_text(), image.get_attribute("src")
    with step(f"measuring the explorer's slider tracks in {notebook}"):
        boxes = [track.bounding_box(timeout=10_000) for track in explorer.locator(".noUi-target").all()]
        tracks = [box["width"] for box in boxes if box]
        # a long description once left the z_1 slider a 27-pixel track: every track needs room to be dragged
        assert tracks and min(tracks) >= 150, f"the explorer's slider tracks are {tracks} px wide"
    (ARTIFACTS / "07_explorer_before.png").write_bytes(before)
    _press(page, explorer.locator(".noUi-handle").first, 10, f"the explorer's z_1 slider in {notebook}")
    after = _changed(image, before, f"the explorer's image in {notebook}")
    (ARTIFACTS / "07_explorer_after.png").write_bytes(after)
    assert after != before, "the decoded image did not change after moving the z_1 slider"
    with step(f"reading the explorer's image and readout in {notebook} after the move"):
        assert image.get_attribute("src") != src_before and readout.inner_text() != text_before
    _no_widget_errors(page, notebook)
    for css in (".course-interpolation", ".course-traversal", ".course-posterior", ".course-sampling"):
        with step(f"counting the {css} images in {notebook}"):
            assert page.locator(f"{css} img.course-latent-image").count() >= 1, f"{css} did not render"


def test_lesson_02_playground_redraws_when_a_slider_moves(lab, pages):
    notebook = "02_entropy_kl.ipynb"
    page = pages[notebook]
    _wait_all(page, lab, notebook)
    _no_widget_errors(page, notebook)
    playground = page.locator(".widget-vbox:has(.widget-slider):has(.widget-output)").first
    plot = playground.locator(".widget-output").first
    readout = playground.locator(".widget-html-content").first
    with step(f"finding the KL playground's plot and readout in {notebook}"):
        plot.scroll_into_view_if_needed()
        before, text_before = plot.screenshot(), readout.inner_text()
    (ARTIFACTS / "02_playground_before.png").write_bytes(before)
    _press(page, playground.locator(".noUi-handle").first, 10, f"the playground's p(x=1) slider in {notebook}")
    after = _changed(plot, before, f"the playground's plot in {notebook}")
    (ARTIFACTS / "02_playground_after.png").write_bytes(after)
    assert after != before, "the playground's plot did not change after moving a slider"
    with step(f"reading the playground's numbers in {notebook} after the move"):
        assert readout.inner_text() != text_before, "the playground's numbers did not change"
    _no_widget_errors(page, notebook)
