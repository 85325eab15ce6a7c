"""Benchmark: render report.html for 5,000 synthetic tests and measure how long headless Chromium takes to load it.

Goal: under 2 s from navigation start to the end of the load event, with the filter script ready. Also
printed, measured in the same run for scale: the load time of a minimal page, the render time in Python, the
file size, and the time one filter change takes.

    python benchmarks/report_5000.py [--tests 5000] [--repeats 5]

Needs Playwright for Python (the dev extras) and the OS's Chromium (apt-get install chromium).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "evaluation"), str(REPO / "evaluation" / "tests")]

from chromium import FLAGS, chromium_path  # noqa: E402
from reportfixtures import synthetic_results  # noqa: E402

from concgrade.report.html import render_html  # noqa: E402

# A realistic pytest failure: the source around the assertion, the E lines, the location.
FAILURE = (
    "    def test_bounded_concurrency(concurrency_probe):\n"
    "        probe = concurrency_probe(notify_service, 'send_notification')\n"
    "        results = notify_service.notify_users(list(range(200)), 'hello')\n"
    ">       assert 2 <= probe.max_active <= 50\n"
    "E       assert 2 <= 1\n"
    "E        +  where 1 = <concgrade.inside.probe.CallProbe object at 0x7f0000000000>.max_active\n\n"
    "tests/test_f2p.py:3: AssertionError\n"
) * 3

LOAD = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return {load: nav.loadEventEnd, dom: nav.domContentLoadedEventEnd, size: nav.decodedBodySize};
}"""


def synthetic(tests: int):
    """5,000 tests, half FAIL_TO_PASS; every tenth fails on after too; each with a probe and a short timeline."""
    results = synthetic_results(tests, failing_every=10, message=FAILURE, extras=True)
    for impl in results.implementations.values():
        for test in impl.tests:
            for probe in test.probes:
                peak = probe["max_active"]
                probe["timeline"] = [(i * 0.0005, 1 + (i * 7) % peak) for i in range(200)] + [(0.1, 0)]
    return results


def measure(page, url: str, repeats: int) -> tuple[list[float], list[float], dict]:
    loads, filters, last = [], [], {}
    for _ in range(repeats):
        page.goto(url, wait_until="load")
        last = page.evaluate(LOAD)
        loads.append(last["load"] / 1000)
        if page.locator("#filters").count():
            started = time.perf_counter()
            page.select_option("#filters select[name=outcome]", "unmet")
            page.locator("#shown-count").inner_text()
            filters.append(time.perf_counter() - started)
    return loads, filters, last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    browser_path = chromium_path()
    if browser_path is None:
        print("no Chromium: apt-get install chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    results = synthetic(args.tests)
    started = time.perf_counter()
    html = render_html(results)
    render_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        report, blank = Path(folder) / "report.html", Path(folder) / "blank.html"
        report.write_text(html, encoding="utf-8")
        blank.write_text("<!doctype html><title>blank</title><p>blank</p>", encoding="utf-8")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_path, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            blank_loads, _, _ = measure(page, blank.as_uri(), args.repeats)
            loads, filters, last = measure(page, report.as_uri(), args.repeats)
            rows = page.locator("#matrix .test").count()
            browser.close()
    median = statistics.median(loads)
    print(f"tests: {args.tests} ({rows} rows), 2 implementations, every tenth failing on after")
    print(f"render (Python): {render_seconds:.2f} s; file: {len(html.encode()) / 1e6:.1f} MB")
    print(
        f"load in Chromium: median {median:.3f} s (min {min(loads):.3f}, max {max(loads):.3f}) over {args.repeats};"
        f" DOMContentLoaded {last['dom'] / 1000:.3f} s"
    )
    print(f"a blank page in the same browser: median {statistics.median(blank_loads):.3f} s")
    print(f"one filter change (outcome = unmet): median {statistics.median(filters):.3f} s")
    print(f"console errors: {len(errors)}")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work slows every figure)")
    verdict = "met" if median < 2.0 and not errors else "NOT met"
    print(f"goal (load < 2 s, no console error): {verdict}")
    return 0 if verdict == "met" else 1


if __name__ == "__main__":
    sys.exit(main())
