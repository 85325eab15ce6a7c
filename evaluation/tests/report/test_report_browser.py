"""report.html in a real browser: headless Chromium from the OS packages, driven by Playwright for Python.

Without Playwright or a Chromium binary these tests skip and say why; `.ci/run` installs both where it can.
"""

from __future__ import annotations

import json

import pytest
from chromium import FLAGS, chromium_path
from conftest import REPO

SECTIONS = ("summary", "checks", "matrix-section", "profiles", "metrics", "bench", "trajectory", "diffs", "runs")
SECTIONS += ("environment", "mutants")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed: pip install -e '.[dev]'"
)
CHROMIUM = chromium_path()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium on this machine: install the OS package (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A page that records console errors, script errors and every request that is not the report file itself."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.problems = []
    page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(f"console {m.type}: {m.text}"))
    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))

    def only_the_file(route):
        if not route.request.url.startswith("file://"):
            page.problems.append(f"request: {route.request.url}")
            return route.abort()
        return route.continue_()

    page.route("**/*", only_the_file)
    yield page
    page.close()


def shown(page) -> int:
    return page.locator("#matrix .test:not([hidden])").count()


def test_the_report_renders_every_section_and_its_filters_work(page, rich_grade, tmp_path):
    page.goto((rich_grade.out / "report.html").as_uri())
    assert page.locator("#verdict").inner_text().lower() == "rejected"
    for section in SECTIONS:
        element = page.locator(f"#{section}")
        assert element.is_visible(), section
        assert len(element.inner_text().strip()) > 20, section
    assert page.locator("#failing-checks li").count() == 2
    assert page.locator("#profiles svg polyline").count() == 3  # one timeline per implementation
    # before → after and after → candidate differ; the lazy candidate is the before source again.
    assert page.locator("#diffs pre.diff").count() == 2
    assert "No implementation file differs" in page.locator("#diffs").inner_text()
    assert page.evaluate("window.__pwned === undefined"), "the hostile trajectory ran"
    assert page.locator("#trajectory table").count() == 1  # Markdown rendered, HTML escaped

    outcomes = {}  # node id -> the outcomes it had on any implementation, from results.json
    for impl in rich_grade.data["implementations"].values():
        for test in impl["tests"]:
            outcomes.setdefault(test["nodeid"], set()).add(test["outcome"])
    assert shown(page) == len(outcomes) == 6
    page.select_option("#filters select[name=outcome]", "unmet")
    assert shown(page) == 3 and page.locator("#shown-count").inner_text() == "3"
    page.select_option("#filters select[name=outcome]", "timeout")
    assert shown(page) == sum("timeout" in seen for seen in outcomes.values()) >= 1
    # text_content, not inner_text: rows use content-visibility, whose skipped rows have no rendered text yet.
    assert "test_slow_is_quick" in page.locator("#matrix .test:not([hidden])").text_content()
    page.select_option("#filters select[name=outcome]", "")
    page.select_option("#filters select[name=suite]", "FAIL_TO_PASS")
    assert shown(page) == 1
    page.fill("#filters input[name=q]", "empty")
    assert shown(page) == 0  # the only FAIL_TO_PASS test is not named "empty"
    page.select_option("#filters select[name=suite]", "")
    assert shown(page) == 1
    page.click("#filters button[data-action=reset]")
    assert shown(page) == 6

    details = page.locator("#matrix details")
    page.click("#filters button[data-action=collapse]")
    assert page.locator("#matrix details[open]").count() == 0
    page.click("#filters button[data-action=expand]")
    assert page.locator("#matrix details[open]").count() == details.count() > 0

    # Rows off screen are not painted (content-visibility): make the whole page the viewport for the record.
    page.set_viewport_size({"width": 1280, "height": page.evaluate("document.documentElement.scrollHeight")})
    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 20_000
    assert page.problems == [], page.problems


@pytest.mark.skipif(
    not (REPO / "repository_after").is_dir() or not (REPO / "evaluation" / "concgrade.toml").is_file(),
    reason="the reference task is not in this checkout",
)
def test_the_reference_task_report(page, cli, tmp_path):
    """The repository's own reference task, graded for real, as a reviewer opens it."""
    out = tmp_path / "out"
    result = cli("--output", str(out), "--quiet")  # run.py grades the task it sits in
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    page.goto((out / "report.html").as_uri())
    assert page.locator("#verdict").inner_text().lower() == "accepted"
    for section in SECTIONS:
        assert page.locator(f"#{section}").is_visible(), section
    total = len({t["nodeid"] for impl in data["implementations"].values() for t in impl["tests"]})
    assert shown(page) == total
    page.select_option("#filters select[name=suite]", "FAIL_TO_PASS")
    assert shown(page) == len(data["suites"]["FAIL_TO_PASS"])
    page.select_option("#filters select[name=suite]", "")
    page.select_option("#filters select[name=outcome]", "unmet")
    assert shown(page) == 0  # accepted: every expectation met
    assert page.locator("#profiles svg polyline").count() >= 2
    assert page.locator("#trajectory article").count() >= 1 and page.locator("#diffs pre.diff").count() >= 1
    page.click("#filters button[data-action=reset]")
    page.set_viewport_size({"width": 1280, "height": page.evaluate("document.documentElement.scrollHeight")})
    page.screenshot(path=str(tmp_path / "reference-report.png"), full_page=True)
    assert page.problems == [], page.problems


THREE_CALLERS = """\
import threading

import counter


def test_three_callers_at_once(concurrency_probe, monkeypatch):
    # Three callers of its own: even the sequential before has three calls running at once, one per caller.
    barrier = threading.Barrier(3, timeout=5)

    def meet(x):
        barrier.wait()
        return x * 2

    monkeypatch.setattr(counter, "work", meet)
    probe = concurrency_probe(counter, "work")
    callers = [threading.Thread(target=counter.run_all, args=([1],)) for _ in range(3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert probe.max_active == 3
"""
TRAJECTORY = "# Trajectory\n\n## 1. Audit\n\nThe original is sequential.\n\n### Findings\n\nOne call at a time.\n"
LONG_AFTER_NOTE = "".join(f"# step {n}: keep the pool bounded and the results in order\n" for n in range(80))


def test_report_details_a_reviewer_needs(page, cli, tmp_path):
    """Issue 16's report details, in Chromium: whole diffs, every process counted under --gate, before's peak
    explained, one name for the benchmark, trajectory headings below the report's, probe figures explained,
    and a failing candidate's failures first."""
    from taskfactory import CONCURRENT, MANIFEST, SEQUENTIAL, make_task, write_files

    manifest = MANIFEST.format(name="details", test_timeout=10, run_timeout=60).replace(
        'PASS_TO_PASS = ["tests/test_p2p.py"]', 'PASS_TO_PASS = ["tests/test_p2p.py", "tests/test_callers.py"]'
    )
    task = make_task(
        tmp_path / "task",
        after=LONG_AFTER_NOTE + CONCURRENT,
        extra={
            "tests/test_callers.py": THREE_CALLERS,
            "trajectory/001_refactor.md": TRAJECTORY,
            "evaluation/concgrade.toml": manifest,
        },
    )
    candidate = tmp_path / "lazy"
    write_files(candidate, {"counter.py": SEQUENTIAL})
    out = tmp_path / "out"
    result = cli("--task", str(task), "--candidate", str(candidate), "--gate", "--output", str(out))
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    processes = sum(len(impl["attempts"]) for impl in data["implementations"].values())
    assert processes >= 11  # before and after five repeats each, the candidate until its first contradiction
    page.goto((out / "report.html").as_uri())
    page.set_viewport_size({"width": 1280, "height": page.evaluate("document.documentElement.scrollHeight")})

    # runs.started counts every process, not one per implementation.
    started = page.locator("#checks tr", has_text="runs.started").inner_text()
    assert f"{processes} pytest processes ran (before 5, after 5, candidate" in started, started

    # before's peak of 3 comes with its explanation, naming the test that starts three callers.
    peaks = {impl["name"]: impl for impl in data["implementations"].values()}
    assert peaks["before"]["role"] == "before"
    assert page.locator("#implementations tbody tr").first.locator("td.peak").inner_text() == "3"
    note = page.locator("#peak-note").inner_text()
    assert "before reaches 3 in tests/test_callers.py::test_three_callers_at_once" in note
    assert "callers of its own" in note

    # One name for the benchmark section: the nav link says what the section's heading says.
    assert page.locator("nav.sections a[href='#bench']").inner_text() == page.locator("#bench h2").inner_text()

    # The trajectory's headings sit below the report's: one h1 on the page, none of the trajectory's above h3.
    assert page.locator("h1").count() == 1
    levels = page.locator("#trajectory article :is(h1, h2, h3, h4, h5, h6)").evaluate_all(
        "nodes => nodes.map(n => n.tagName)"
    )
    assert levels == ["H3", "H4", "H5"], levels

    # Probe figures say what they count ("errors": calls that raised).
    figures = page.locator("#profiles table.probe-figures").first
    assert "what it counts" in figures.inner_text()
    assert "raised an exception" in figures.locator("tr", has_text="errors").inner_text()

    # Diffs show the whole change: no box of their own that scrolls (the after file is 80 lines longer).
    diff = page.locator("#diffs pre.diff").first
    assert diff.evaluate("e => getComputedStyle(e).maxHeight") == "none"
    assert diff.evaluate("e => e.scrollHeight <= e.clientHeight + 1")
    assert diff.evaluate("e => e.getBoundingClientRect().height") > 900  # 80 added lines, all on the page

    # A failing candidate's failures come first: the first row is its unmet test, its excerpt before before's.
    first = page.locator("#matrix .test").first
    assert first.get_attribute("data-unmet") == "1"
    assert first.get_attribute("data-nodeid") == "tests/test_f2p.py::test_runs_concurrently"
    headings = first.locator(".cell-detail h4").all_inner_texts()
    assert headings[0].startswith("candidate"), headings
    assert any(h.startswith("before") for h in headings[1:]), headings

    screenshot = tmp_path / "report-details.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 20_000
    parts = {"summary": "#summary", "first-row": "#matrix .test >> nth=0", "probe": "#profiles details >> nth=0"}
    parts |= {"trajectory": "#trajectory", "diff": "#diffs details >> nth=0"}
    for name, selector in parts.items():  # each part on its own, for a reviewer's eye
        page.locator(selector).screenshot(path=str(tmp_path / f"details-{name}.png"))
    assert page.problems == [], page.problems


def test_a_counterexample_is_drawn_with_its_impossible_response_and_seed(page, cli, tmp_path):
    """A racy hit counter graded for real: its history's counterexample as bars, one line per thread."""
    from history_shapes import SHAPES, make_history_task

    task = make_history_task(tmp_path / "task", SHAPES["hit-counter"], "racy", runs=2)
    result = cli("--task", str(task), "--output", str(tmp_path / "out"), "--seed", "11")
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    after = next(i for i in data["histories"]["histories"][0]["implementations"] if i["implementation"] == "after")
    violation = next(run for run in after["runs"] if run["outcome"] == "violation")
    counterexample = violation["verdict"]["counterexample"]

    page.goto((tmp_path / "out" / "report.html").as_uri() + "#histories")
    figure = page.locator('#histories figure.counterexample[data-implementation="after"]')
    assert figure.count() == 1
    threads = {op["client"] for op in counterexample["operations"]}
    assert figure.locator("svg text.thread").count() == len(threads)
    assert figure.locator("svg g.op").count() == len(counterexample["operations"])
    impossible = figure.locator("svg g.op.impossible")
    assert impossible.count() == 1 and impossible.locator("rect").is_visible()
    assert impossible.locator("rect").evaluate("r => getComputedStyle(r).stroke") == "rgb(179, 38, 30)"  # var(--bad)
    assert figure.locator("svg line.impossible-marker").count() == 1
    assert counterexample["explanation"] in figure.inner_text()
    assert f"--seed {violation['seed']}" in figure.locator("code.replay").inner_text()
    assert "history.linearizable.hit-counter.after" in page.locator("#failing-checks").inner_text()
    assert page.locator("#histories .history-results td.status-fail").count() == 1
    shot = tmp_path / "counterexample.png"
    figure.screenshot(path=str(shot))
    assert shot.stat().st_size > 5_000
    assert not page.problems, page.problems
