"""report.html: the view model's decisions, escaping of untrusted text, self-containment, and scale limits."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from html.parser import HTMLParser

from reportfixtures import synthetic_results

from concgrade.report.charts import BUCKETS, step_chart
from concgrade.report.html import render_html
from concgrade.report.view import DETAIL_BUDGET, MESSAGE_EXCERPT, build_view, expectation

SECTIONS = ("summary", "checks", "matrix-section", "profiles", "metrics", "bench", "trajectory", "diffs", "runs")


def inline(html: str, tag: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", html, flags=re.S)


class Elements(HTMLParser):
    """Every element of a page with its attributes, as a browser's parser would see them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {key: value or "" for key, value in attrs}))


def test_expectations_follow_the_suites():
    assert expectation("before", "FAIL_TO_PASS") == "fail"
    assert expectation("after", "FAIL_TO_PASS") == "pass"
    assert expectation("before", "PASS_TO_PASS") == "pass"
    assert expectation("after", None) is None


def test_a_failing_f2p_test_on_before_is_a_met_expectation_and_not_expanded():
    view = build_view(synthetic_results(4))
    f2p = next(row for row in view.rows if row.suite == "FAIL_TO_PASS")
    before, after = f2p.cells
    assert (before.outcome, before.expected, before.met) == ("failed", "fail", True)
    assert (after.outcome, after.expected, after.met) == ("passed", "pass", True)
    assert not f2p.unmet and not f2p.open
    assert view.counts == {"tests": 4, "unmet": 0}


def test_an_unmet_expectation_opens_its_row_with_the_error_excerpt():
    view = build_view(synthetic_results(4, failing_every=3))
    unmet = [row for row in view.rows if row.unmet]
    assert [row.nodeid for row in unmet] == ["tests/test_f2p.py::test_0", "tests/test_p2p.py::test_3"]
    assert all(row.open for row in unmet)
    after = unmet[1].cells[1]
    assert after.met is False and "assert 1 == 2" in after.message


def test_untrusted_text_is_escaped_and_only_the_report_script_could_run():
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    results = synthetic_results(2, failing_every=1, message="</pre>" + hostile, nodeid="tests/t.py::test_{index}[<b>]")
    trajectory = [{"path": "trajectory/x.md", "text": f"# T\n\n{hostile}\n\n[x](javascript:alert(3))"}]
    results = dataclasses.replace(results, trajectory=trajectory)
    html = render_html(results)
    elements = Elements(html).found
    assert [tag for tag, _ in elements].count("script") == 1, "only the report's own script"
    assert not [tag for tag, _ in elements if tag == "img"]
    assert not [attrs for _, attrs in elements if any(key.startswith("on") for key in attrs)]
    assert not [attrs for _, attrs in elements if attrs.get("href", "").lower().startswith("javascript")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "tests/t.py::test_0[&lt;b&gt;]" in html


def test_the_page_is_self_contained_and_its_policy_allows_only_its_own_inline_assets():
    html = render_html(synthetic_results(3, extras=True))
    assert not re.search(r"<(link|img|iframe|object|embed)\b", html)
    assert not re.search(r"\s(src|srcset)=", html) and "@import" not in html and "url(" not in html
    (style,), (script,) = inline(html, "style"), inline(html, "script")
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    for text in (style, script):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy


def test_every_section_renders_what_the_results_hold():
    html = render_html(synthetic_results(4, failing_every=3, extras=True))
    for section in SECTIONS:
        assert f'id="{section}"' in html
    assert "<svg" in html and "<polyline" in html  # probe timelines
    assert re.search(r"<td>lines</td>.*?>10<.*?>14<.*?>\+4<", html, re.S)  # metric per implementation and delta
    assert "CG101" in html and "m.py:12" in html  # finding with its line
    assert "CL040" in html and "task (lint)" in html  # the task's lint findings
    assert "No benchmark in these results" in html  # the benchmark's own view is tested with a real --bench grade
    assert "pid_namespace" in html and "bwrap" in html  # isolation layers
    assert "2/3" in html and "flaky" in html  # pass count over repeats, flaky mark
    assert '<span class="add">+new</span>' in html and "<h3>Notes</h3>" in html  # trajectory headings below the section
    assert html.count("<h1") == 1  # the page title only
    assert "cd / &amp;&amp; concgrade --task t" in html


def test_a_huge_report_keeps_its_excerpts_within_the_budget():
    # Half the tests fail on one implementation, half on both: enough excerpts to pass the budget.
    tests = int(DETAIL_BUDGET / MESSAGE_EXCERPT / 1.5) + 200
    results = synthetic_results(tests, failing_every=1, message="x" * 30_000)
    view = build_view(results)
    kept = sum(len(cell.message) for row in view.rows for cell in row.cells)
    assert view.omitted_details > 0 and kept <= DETAIL_BUDGET
    assert sum(row.open for row in view.rows) == 100  # expanded rows are capped too
    assert "excerpts left out to keep this page small" in render_html(results)


def test_excerpts_that_explain_the_verdict_are_kept_before_expected_failures(monkeypatch):
    """FAIL_TO_PASS failures on before come first on the page, but a failure on after is what a reviewer needs."""
    from concgrade.report import view as view_module

    monkeypatch.setattr(view_module, "DETAIL_BUDGET", 10 * MESSAGE_EXCERPT)
    results = synthetic_results(60, failing_every=59, message="y" * MESSAGE_EXCERPT)  # test_59 fails on after
    view = build_view(results)
    unmet = next(row for row in view.rows if row.nodeid.endswith("::test_59"))
    assert unmet.unmet and unmet.cells[1].message  # kept, although 30 expected failures come before it
    assert view.omitted_details > 0


def test_a_long_timeline_is_bucketed_without_losing_its_peak():
    timeline = [(i * 0.001, 1 + (i % 2)) for i in range(10_000)]
    timeline[5_001] = (5.001, 7)
    chart = step_chart(timeline, "t", top=7)
    points = [tuple(map(float, p.split(","))) for p in chart.points.split()]
    assert len(points) <= 2 * BUCKETS + 3
    assert chart.peak == "7"
    assert min(y for _, y in points) == chart.y0  # the spike reaches the top of the plot


def test_the_rich_grade_report_shows_its_failures_and_the_candidate_diffs(rich_grade):
    html = (rich_grade.out / "report.html").read_text(encoding="utf-8")
    assert 'class="verdict rejected"' in html
    assert "p2p.passes_on_after" in html and "f2p.passes_on_candidate" in html
    assert "before → after" in html and "before → candidate" in html and "after → candidate" in html
    assert "&lt;b&gt;printed &amp; &#34;quoted&#34;&lt;/b&gt;" in html  # captured stdout, escaped
    assert "&lt;script&gt;window.__pwned = true&lt;/script&gt;" in html  # hostile trajectory, escaped
    assert '<span class="pill timeout">timeout</span>' in html


def test_rows_whose_expectation_is_not_met_come_first_and_their_failures_lead_the_excerpts():
    from reportfixtures import synthetic_results

    from concgrade.report.view import matrix_rows

    # failing_every=3: the P2P tests 3 and 9 fail on after; F2P tests fail on before as they should.
    rows, _ = matrix_rows(synthetic_results(10, failing_every=3))
    unmet = [row.nodeid for row in rows if row.unmet]
    assert [row.nodeid for row in rows[: len(unmet)]] == unmet  # every unmet row before any met one
    assert "tests/test_p2p.py::test_3" in unmet and rows[0].unmet
    met_f2p = next(row for row in rows if not row.unmet and row.suite == "FAIL_TO_PASS")
    assert rows.index(met_f2p) >= len(unmet)  # before's expected failures come after
    both = next(row for row in rows if row.nodeid == "tests/test_f2p.py::test_0")  # fails on before and after
    assert [cell.implementation for cell in both.detail_cells] == ["after", "before"]


def test_runs_started_counts_every_process_of_every_repeat():
    from concgrade.grade.checks import check_runs_started
    from concgrade.grade.outcomes import RunObservation

    def run(name: str, processes: int) -> RunObservation:
        return RunObservation(
            name, name, 0, False, 1.0, True, True, [], [], {}, [], [], [], {}, "", "",
            attempts=[{"index": i} for i in range(processes)],
        )  # fmt: skip

    check = check_runs_started([run("before", 5), run("after", 5), run("candidate", 1)])
    assert check.message == "11 pytest processes ran (before 5, after 5, candidate 1)"
