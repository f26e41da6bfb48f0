"""The course website in a real browser: every page loads, links and images work, math renders, search finds.

The site is what `python -m sphinx ... site/_build/html` (tools/build.py's SITE_COMMAND, the README's site
command) builds from the committed notebooks. `.ci/run` builds it before the tests, so its build time shows in
CI's log; this test reuses that build when it is newer than every source (tools.build.site_sources), and
otherwise makes a clean one itself, so the README's test command alone checks the site. A local http.server
on a free loopback port serves it to the system Chromium, driven by Playwright as in tests/test_browser.py.
Every wait has its own deadline, and a failure names the step it was waiting for.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from course_utils.runtime import BRANCH, REPOSITORY
from tests.test_browser import STEP_TIMEOUT_S, _read, find_chromium, step
from tools.build import ROOT, SITE_COMMAND, SITE_HTML, colab_url, site_pages, site_sources

pytestmark = pytest.mark.pipeline

BUILD_TIMEOUT_S = 600  # a clean build takes under a minute; a busy 2-core machine is slower
MATH_TIMEOUT_S = 60  # MathJax typesets a long lesson's few hundred formulas
PAGES = [page.docname for page in site_pages()]


def _stale() -> list[str]:
    """The sources newer than the last build (all of them when there is none)."""
    stamp = SITE_HTML / ".buildinfo"  # Sphinx rewrites it at the end of every build
    built = stamp.stat().st_mtime if stamp.is_file() else float("-inf")
    return [str(p.relative_to(ROOT)) for p in site_sources() if p.stat().st_mtime > built]


@pytest.fixture(scope="module")
def site() -> str:
    """The built site's folder: the last build if it is up to date, else a clean build made here."""
    stale = _stale()
    if stale:
        shutil.rmtree(SITE_HTML.parent, ignore_errors=True)
        command = [sys.executable, *shlex.split(SITE_COMMAND)[1:]]
        start = time.monotonic()
        try:
            proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, encoding="utf-8",
                                  timeout=BUILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"building the site: `{SITE_COMMAND}` did not finish within {BUILD_TIMEOUT_S} s")
        assert proc.returncode == 0, f"building the site failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        print(f"built the site in {time.monotonic() - start:.0f} s ({len(stale)} sources newer than the last build)")
    return str(SITE_HTML)


@pytest.fixture(scope="module")
def server(site):
    """The site over HTTP on 127.0.0.1 (a free port), from a thread; yields the base address."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # not one line per request in the test's output
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=site))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    chromium = find_chromium()
    how = "install Chromium (Debian: `apt-get install chromium`) or set COURSE_CHROMIUM, and `pip install playwright`"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        if os.environ.get("COURSE_REQUIRE_BROWSER"):
            pytest.fail(f"COURSE_REQUIRE_BROWSER is set but the site test cannot run: {how}")
        pytest.skip(f"no Chromium or no Playwright: {how}")
    with sync_playwright() as p:
        with step(f"starting Chromium ({chromium})"):
            browser = p.chromium.launch(executable_path=chromium, timeout=120_000,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def visited(server, browser) -> dict[str, dict]:
    """Every page opened once: what loaded, what failed, its links and images, read in the browser."""
    found = {}
    for name in ["index", "site/index", *PAGES]:
        page = browser.new_page()
        page.set_default_timeout(STEP_TIMEOUT_S * 1000)  # every Playwright action not given its own
        errors, failed = [], []
        page.on("pageerror", lambda err, errors=errors: errors.append(str(err)))
        page.on("requestfailed", lambda req, failed=failed: failed.append(req.url))
        page.on("response", lambda r, failed=failed: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        url = server + ("index.html" if name == "index" else f"{name}.html")
        with step(f"loading {url}"):
            response = page.goto(url, wait_until="load", timeout=STEP_TIMEOUT_S * 1000)
        with step(f"waiting for the images of {page.url} to load"):
            page.wait_for_function("() => [...document.images].every(img => img.complete)",
                                   timeout=STEP_TIMEOUT_S * 1000)
        seen = _read(page, """() => ({title: document.title,
            links: [...document.querySelectorAll('a[href]')].map(a => a.href),
            images: [...document.images].map(i => ({src: i.src, alt: i.getAttribute('alt'), width: i.naturalWidth}))
        })""", f"reading the title, links and images of {page.url}")
        found[name] = {"status": response.status if response else None, "final": page.url, "errors": errors,
                       "failed": failed, **seen}
        page.close()
    return found


def _until(page, function: str, what: str, timeout_s: float = STEP_TIMEOUT_S):
    """The first truthy JSON value of the JavaScript `function`, polled in the page, or a failure naming `what`."""
    with step(f"{what} (not there within {timeout_s:.0f} s)"):
        return page.wait_for_function(function, timeout=timeout_s * 1000).json_value()


@contextlib.contextmanager
def opened(browser, url: str, what: str):
    """A new page at `url` (its actions time out after STEP_TIMEOUT_S), closed afterwards."""
    page = browser.new_page()
    page.set_default_timeout(STEP_TIMEOUT_S * 1000)
    try:
        with step(f"opening {what}"):
            page.goto(url, timeout=STEP_TIMEOUT_S * 1000)
        yield page
    finally:
        page.close()


def test_every_page_loads_without_errors(visited):
    assert len(visited) == len(PAGES) + 2
    for name, seen in visited.items():
        assert seen["status"] == 200, f"{name}: HTTP status {seen['status']}"
        assert seen["title"].strip(), f"{name}: the page has no title"
        assert not seen["errors"], f"{name}: JavaScript errors {seen['errors']}"
        assert not seen["failed"], f"{name}: requests that failed {seen['failed']}"
    assert visited["index"]["final"].endswith("/site/index.html"), "the site's root does not lead to its front page"


def _ids(server: str, address: str, cache: dict) -> set[str] | None:
    """The element ids of an internal page (None if it does not load)."""
    if address not in cache:
        try:
            with urllib.request.urlopen(address, timeout=STEP_TIMEOUT_S) as reply:
                cache[address] = set(re.findall(r'\sid="([^"]+)"', reply.read().decode("utf-8", "replace")))
        except urllib.error.URLError:
            cache[address] = None
    return cache[address]


def test_no_internal_link_is_broken(server, visited):
    cache, checked = {}, 0
    for name, seen in visited.items():
        for link in seen["links"]:
            if not link.startswith(server):
                continue
            address, _, fragment = link.partition("#")
            ids = _ids(server, address, cache)
            assert ids is not None, f"{name}: the link {link} leads to a page that does not load"
            fragment = urllib.parse.unquote(fragment)
            assert not fragment or fragment in ids, f"{name}: the link {link} points at #{fragment}, not on that page"
            checked += 1
    assert checked > 20 * len(PAGES), f"only {checked} internal links found: the pages' navigation is missing"


def test_every_image_loads_and_has_alt_text(visited):
    figures = 0
    for name, seen in visited.items():
        for image in seen["images"]:
            assert image["width"] > 0, f"{name}: the image {image['src']} did not load"
            assert (image["alt"] or "").strip(), f"{name}: the image {image['src']} has no alt text"
            figures += "/_images/" in image["src"]
    assert figures >= 50, f"only {figures} figures on the whole site: the notebooks' outputs are missing"


def test_the_table_of_contents_is_the_lesson_map(server, browser):
    with opened(browser, server + "site/index.html", "the front page") as page:
        links = _read(page, "() => [...document.querySelectorAll('.bd-content .toctree-wrapper a.reference')]"
                            ".map(a => a.href)", "reading the front page's table of contents")
    expected = [f"{server}{docname}.html" for docname in PAGES]
    assert links == expected, "the front page's contents differ from tools/build.py's site_pages() order"


def test_math_is_rendered(server, browser):
    with opened(browser, server + "notebooks/02_entropy_kl.html", "lesson 02") as page:
        result = _until(page, """() => {
            const math = [...document.querySelectorAll('.bd-content .math')];
            const done = math.filter(m => m.querySelector('mjx-container'));
            return math.length > 0 && done.length === math.length
                ? {formulas: math.length, errors: document.querySelectorAll('mjx-merror').length} : null;
        }""", "waiting for MathJax to typeset every formula of lesson 02", MATH_TIMEOUT_S)
    assert result["formulas"] >= 50, f"only {result['formulas']} formulas on lesson 02"
    assert result["errors"] == 0, f"MathJax could not typeset {result['errors']} formulas of lesson 02"


def test_launch_buttons_point_at_the_configured_repository(visited):
    for page in site_pages():
        links = visited[page.docname]["links"]
        rel = f"{page.docname}.ipynb"
        binder = f"https://mybinder.org/v2/gh/{REPOSITORY}/{BRANCH}?urlpath=lab/tree/{rel}"
        assert colab_url(page.notebook) in links, f"{page.docname}: no Colab button for {colab_url(page.notebook)}"
        assert binder in links, f"{page.docname}: no Binder button for {binder}"


def test_widgets_show_a_note_instead_of_their_saved_view(server, browser):
    with opened(browser, server + "notebooks/07_latent_space.html", "lesson 07") as page:
        notes, live, views = _read(page, """() => [
            [...document.querySelectorAll('.bd-content p')].filter(p => p.innerText.includes(NOTE)).length,
            document.querySelectorAll('.course-live-explorer').length,
            document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length]"""
                                   .replace("NOTE", '"An interactive widget was here"'),
                                   "counting lesson 07's widget notes")
    # six widgets: the 2-D explorer runs live, the five others leave a note
    assert (notes, live, views) == (5, 1, 0), f"lesson 07: {notes} notes, {live} live explorers, {views} views"


PIXELS = """() => {
    const root = document.querySelector('.course-live-explorer');
    if (!root || root.dataset.ready !== 'true') return null;
    const images = {};
    for (const canvas of root.querySelectorAll('canvas.course-live-image')) {
        const data = canvas.getContext('2d').getImageData(0, 0, 28, 28).data;
        images[canvas.dataset.model] = Array.from({length: 784}, (_, i) => data[4 * i]);
    }
    return {z: JSON.parse(root.dataset.z), images: images};
}"""


def test_lesson_07_explorer_decodes_live_in_the_page_as_the_package_does(server, browser):
    import torch

    from course_utils.checkpoint import load_pretrained
    from course_utils.latent_space import decode_images

    with opened(browser, server + "notebooks/07_latent_space.html", "lesson 07") as page:
        before = _until(page, PIXELS, "waiting for lesson 07's live explorer to load its decoders")
        with step("moving the live explorer's sliders with the keyboard"):
            page.locator('.course-live-explorer input[name="z1"]').focus()
            for _ in range(10):
                page.keyboard.press("ArrowRight")
            page.locator('.course-live-explorer input[name="z2"]').focus()
            for _ in range(6):
                page.keyboard.press("ArrowLeft")
        moved = f"() => {{ const r = ({PIXELS})(); return r && r.z[0] > 0.4 && r.z[1] < -0.2 ? r : null; }}"
        after = _until(page, moved, "waiting for the live explorer's images after the move")
    assert before["z"] == [0, 0] and after["z"] == pytest.approx([0.5, -0.3], abs=1e-9), after["z"]
    assert set(after["images"]) == {"ae_latent2", "vae_latent2"}
    for name, shown in after["images"].items():
        assert shown != before["images"][name], f"{name}: the image did not change when the sliders moved"
        model, _ = load_pretrained(name, device="cpu")
        expected = decode_images(model, torch.tensor([after["z"]]))[0]  # (784,) in [0, 1]
        # the page paints round(255 p) from float32 weights in double arithmetic: within half a grey level,
        # plus float32 rounding of the package's own sums (about 1e-6 for 400 terms)
        error = (torch.tensor(shown, dtype=torch.float64) / 255 - expected.double()).abs().max().item()
        assert error <= 0.5 / 255 + 1e-5, f"{name}: the page's image differs from decode(z) by {error:.4f}"


def test_search_finds_reparameterization(server, browser):
    with opened(browser, server + "search.html?q=reparameterization", "the search page") as page:
        found = _until(page, "() => { const links = [...document.querySelectorAll('#search-results ul.search li a')];"
                            " return links.length ? links.map(a => a.href) : null; }", "waiting for the search results")
    assert any("notebooks/05_reparameterization.html" in link for link in found), found
