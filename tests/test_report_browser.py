"""The report in a real browser: Debian's Chromium, headless, driven by Playwright, opens the report
of a real short run from disk (file://) and must draw it with no console error and no request
beyond the file itself; the run's hostile candidate must not run anything.

Screenshots (the CI artifacts): runs/artifacts/report-browser.png (the whole page) and
runs/artifacts/report-browser-candidate.png (a candidate opened), under the repository, or under
$EVOLVE_ARTIFACTS_DIR. tests/run.sh installs Chromium and sets EVOLVE_REQUIRE_BROWSER=1 in CI, so
there a missing browser fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from report_runs import XSS, llm_report

from evolve.run_folders import RunPlace, open_run

REPO = Path(__file__).parent.parent
ARTIFACTS = Path(os.environ.get("EVOLVE_ARTIFACTS_DIR", REPO / "runs" / "artifacts"))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def _unavailable(why: str):
    if os.environ.get("EVOLVE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the browser test is required here (EVOLVE_REQUIRE_BROWSER=1) but {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def chromium(report):
    """Started after the run is made: Playwright's sync API holds an event loop that `evolve run` would meet."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("no chromium on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out, runs = llm_report(tmp_path_factory)
    handle = open_run("llm", RunPlace(runs))
    return out, handle.store, handle.run


class Visit:
    """A page opened from disk, with everything it logged, requested and tried to show."""

    def __init__(self, browser, path: Path, bypass_csp: bool = False):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=bypass_csp)
        self.page = self.context.new_page()
        self.console: list[tuple[str, str]] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.console.append(("pageerror", str(e))))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("body[data-ready=true]", timeout=30_000)

    def open_candidate(self, candidate_id: int, iteration: int) -> None:
        from playwright.sync_api import expect

        self.page.evaluate(f"location.hash = '#candidate-{candidate_id}'")
        expect(self.page.locator("#panel-title")).to_contain_text(f"#{iteration} ")
        self.page.wait_for_timeout(100)

    def close(self) -> None:
        self.context.close()


def test_the_report_draws_offline_with_no_error_and_no_request(chromium, report):
    path, store, run = report
    candidates = store.candidates(run.id)
    best = store.candidate(store.run(run.name).best_candidate_id)
    visit = Visit(chromium, path)
    page = visit.page
    try:
        drawn = set(page.evaluate("() => document.getElementById('fig-scores').data.flatMap(t => t.customdata || [])"))
        assert {c.id for c in candidates} <= drawn  # every candidate is a point on the score chart
        assert page.locator("#fig-scores path.point").count() >= len(candidates)
        for name in ("tree", "failures", "spend", "grid"):
            assert page.locator(f"#fig-{name} .main-svg").count() > 0, name

        steps = page.locator("ol.ancestry > li")
        assert steps.count() == len(store.lineage(best.id)) >= 2
        steps.last.locator("summary a").click()
        page.locator("#panel").wait_for(state="visible")
        assert page.inner_text("#panel-title").startswith(f"#{best.iteration} ")
        shown = [line for line in page.inner_text("#panel-diff").splitlines() if line.strip()]
        assert shown == [line for line in best.diff.splitlines() if line.strip()]
        assert XSS in page.locator("#panel-diff .add").first.inner_text()  # the hostile comment, as text
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.locator("#panel").screenshot(path=str(ARTIFACTS / "report-browser-candidate.png"))

        page.click("#panel-close")
        page.locator("#candidate-table tbody tr").first.click()
        assert page.inner_text("#panel-title").startswith("#0 ")  # the table opens candidates too
        page.click("#panel-close")
        page.screenshot(path=str(ARTIFACTS / "report-browser.png"), full_page=True)

        assert [m for m in visit.console if m[0] in ("error", "pageerror")] == []
        assert set(visit.requests) == {path.as_uri()}
        assert visit.dialogs == [] and page.evaluate("() => window.__xss") is None
    finally:
        visit.close()


def test_hostile_candidates_run_nothing_even_without_the_csp(chromium, report):
    """The page's CSP would block injected scripts anyway; this checks that escaping alone suffices."""
    path, store, run = report
    hostile = [c for c in store.candidates(run.id) if XSS in c.code]
    assert hostile, "the fake model should have proposed hostile code"
    visit = Visit(chromium, path, bypass_csp=True)
    page = visit.page
    try:
        scripts = page.evaluate("() => document.scripts.length")
        for candidate in hostile:
            visit.open_candidate(candidate.id, candidate.iteration)
            for details in page.locator("#panel details").all():
                details.evaluate("d => { d.open = true; }")
            assert XSS in page.inner_text("#panel-code") and XSS in page.inner_text("#panel-response")
        page.click("#panel-close")
        page.hover("#fig-scores .main-svg")
        assert visit.dialogs == []
        assert page.evaluate("() => window.__xss") is None
        assert page.evaluate("() => document.images.length") == 0
        assert page.evaluate("() => document.scripts.length") == scripts
        assert set(visit.requests) == {path.as_uri()}  # an injected <img src=x> would have been requested
    finally:
        visit.close()
