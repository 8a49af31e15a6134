"""Size and build time of `evolve report` for generated 1k and 10k-candidate runs.

    python benchmarks/report_size.py [--sizes 1000 10000] [--keep DIR] [--browser]

Each store is filled by benchmarks/filled_store.py (the one controller_scale.py uses), for the
spot_single problem: candidates mutate their parent's constants (so code, diffs and prompts are
as repetitive as in a real run), with a realistic mix of statuses (valid, invalid, failed with a
traceback, rejected, duplicate), per-stage metrics and feedback, four islands, and for the LLM rows
one call per candidate with a prompt (system text, problem context, parent, two inspirations,
feedback: about 12 kB) and an answer, priced for two models. Prints one row per store; with
--browser, also the time headless Chromium (/usr/bin/chromium, via Playwright) takes to open the
file and have the page ready (charts drawn, candidate index unpacked).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from filled_store import generate  # the same synthetic runs as controller_scale.py

from evolve.html_report.collect import collect
from evolve.html_report.page import render_page


def measure(folder: Path, n: int, llm: bool) -> dict:
    db = folder / f"{'llm' if llm else 'offline'}-{n}.db"
    started = time.perf_counter()
    store, name = generate(f"sqlite:///{db}", n, llm, random.Random(n), pad=False)
    generated = time.perf_counter() - started
    run = store.run(name)
    t0 = time.perf_counter()
    data = collect(store, run)
    t1 = time.perf_counter()
    page = render_page(data).encode()
    t2 = time.perf_counter()
    (folder / f"{name}.html").write_bytes(page)
    store.close()
    return {"run": name, "candidates": n, "store_mb": db.stat().st_size / 1e6, "report_mb": len(page) / 1e6,
            "collect_s": t1 - t0, "render_s": t2 - t1, "generate_s": generated, "path": folder / f"{name}.html"}


def open_seconds(path: Path) -> float:
    """Seconds from navigation to a ready page in headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        started = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=120_000)
        seconds = time.perf_counter() - started
        browser.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--keep", type=Path, help="write the stores and reports here (default: a temp folder)")
    parser.add_argument("--browser", action="store_true", help="also time opening each report in headless Chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{'run':<14} {'candidates':>10} {'store MB':>9} {'report MB':>10} {'build s':>8} {'(read':>7} {'render)':>8}"
              + (f" {'open s':>7}" if args.browser else ""))
        for n in args.sizes:
            for llm in (False, True):
                r = measure(folder, n, llm)
                opened = f" {open_seconds(r['path']):>7.2f}" if args.browser else ""
                print(f"{r['run']:<14} {r['candidates']:>10,} {r['store_mb']:>9.1f} {r['report_mb']:>10.1f} "
                      f"{r['collect_s'] + r['render_s']:>8.2f} {r['collect_s']:>7.2f} {r['render_s']:>8.2f}{opened}", flush=True)


if __name__ == "__main__":
    main()
