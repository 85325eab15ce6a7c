"""The HTML report's view model: plain data built from the results model only, for templates that only loop and print.

Every decision about what a reviewer sees (expectations, marks, excerpts, chart points) is made here,
in plain Python that tests can call; the template never computes anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from concgrade.report.charts import Chart, step_chart
from concgrade.report.trajectory_html import render_markdown
from concgrade.results.model import Results, TestResult
from concgrade.task.model import F2P, P2P

UNGRADED = "ungraded"
SUITE_ORDER = {F2P: 0, P2P: 1, UNGRADED: 2}
# Outcomes that get a mark of their own in a cell, with the mark's text.
MARKS = {"timeout": "timeout", "crashed": "crash", "interrupted": "interrupted", "inconsistent": "inconsistent"}
# Excerpts kept per failing cell, and the budget of excerpt text of the whole page (beyond it: "see results.json").
MESSAGE_EXCERPT = 4_000
OUTPUT_EXCERPT = 2_000
DETAIL_BUDGET = 3_000_000
# Failing rows shown expanded; further ones stay collapsed so that a report of thousands of failures stays quick.
EXPANDED_ROWS = 100
# Tests whose concurrency profile (figures and charts) the page shows; the matrix still shows every test's peak.
PROFILES_SHOWN = 100


@dataclass(frozen=True)
class CheckView:
    id: str
    status: str
    message: str


@dataclass
class CellView:
    implementation: str
    outcome: str
    expected: str | None  # "pass", "fail", or None where no suite grades the test
    met: bool | None
    duration: str
    passes: str | None  # "k/n" over repeats, when the test was repeated
    marks: list[str]
    peak: int | None
    message: str = ""
    stdout: str = ""
    stderr: str = ""

    @property
    def has_details(self) -> bool:
        return bool(self.message or self.stdout or self.stderr)

    @property
    def label(self) -> str:
        """The outcome as the cell prints it: empty where a mark (timeout, crash, ...) already says it."""
        return "" if self.outcome in MARKS else self.outcome


@dataclass
class RowView:
    nodeid: str
    suite: str
    cells: list[CellView]
    unmet: bool
    outcomes: str  # space-separated observed outcomes, for the filter
    open: bool = False

    @property
    def has_details(self) -> bool:
        return any(cell.has_details for cell in self.cells)

    @property
    def detail_cells(self) -> list[CellView]:
        """The cells with excerpts, those whose expectation is not met first (a candidate's failure before
        the before's expected one)."""
        return sorted((cell for cell in self.cells if cell.has_details), key=lambda cell: cell.met is not False)


@dataclass(frozen=True)
class SuiteCount:
    suite: str
    passed: int
    total: int
    expected: str  # what the suite should do on this implementation: "pass" or "fail"
    met: bool


@dataclass(frozen=True)
class SummaryRow:
    implementation: str
    role: str
    suites: list[SuiteCount]
    duration: str
    exit_code: str
    peak: int | None
    peak_test: str = ""  # the test that reached the peak (several callers of a sequential code reach several)


@dataclass
class ProbeView:
    label: str
    rows: list[tuple[str, list[str]]]  # metric, one value per implementation
    charts: list[Chart]
    meanings: list[str] = field(default_factory=list)  # what each row's figure counts, in the rows' order


@dataclass
class ProfileView:
    nodeid: str
    suite: str
    probes: list[ProbeView]


@dataclass(frozen=True)
class MetricRow:
    name: str
    values: list[str]  # one per implementation
    deltas: list[str]  # one per comparison (before → after, before → candidate)
    directions: list[str]  # per delta: "up", "down" or "" (for styling)


@dataclass(frozen=True)
class FindingView:
    implementation: str
    rule: str
    severity: str
    location: str
    message: str


@dataclass(frozen=True)
class DiffLine:
    kind: str  # add, del, hunk, head, ctx
    text: str


@dataclass(frozen=True)
class DiffFileView:
    path: str
    status: str
    added: int
    removed: int
    lines: list[DiffLine]
    truncated: bool


@dataclass(frozen=True)
class DiffView:
    title: str
    files: list[DiffFileView]
    unchanged: list[str]


@dataclass(frozen=True)
class TrajectoryView:
    path: str
    html: Markup
    truncated: bool


@dataclass(frozen=True)
class RunView:
    implementation: str
    role: str
    folder: str
    command: str
    exit_code: str
    status: str
    imports: list[str]
    problems: list[str]
    collect_errors: list[str]
    stdout_tail: str
    stderr_tail: str
    # One per pytest process of the run (a crash starts another), and what held the run to account.
    processes: list[dict[str, Any]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)


@dataclass
class ReportView:
    title: str
    task: str
    verdict: str
    exit_code: int
    error: str | None
    version: str
    started_at: str
    duration: str
    failing_checks: list[CheckView]
    checks: list[CheckView]
    implementations: list[str]
    summary: list[SummaryRow]
    summary_suites: list[str]
    suites: list[str]
    outcomes: list[str]
    rows: list[RowView]
    profiles: list[ProfileView]
    profiles_hidden: int
    delta_columns: list[str]
    metric_rows: list[MetricRow]
    findings: list[FindingView]
    trajectory: list[TrajectoryView]
    diffs: list[DiffView]
    runs: list[RunView]
    environment: list[tuple[str, str]]
    isolation: list[tuple[str, str]]
    reproduce: str
    omitted_details: int = 0
    isolation_layers: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    peak_note: str = ""
    python: str = ""  # the Python the tests ran on, where the task's environment names it, and any difference
    skipped: list[dict[str, str]] = field(default_factory=list)  # phases not run, and why


def build_view(results: Results) -> ReportView:
    """Everything report.html shows, from the results model alone."""
    names = list(results.implementations)
    rows, omitted = matrix_rows(results)
    shown_profiles, hidden_profiles = profiles(results)
    delta_columns, metrics_table = metric_rows(results)
    checks = [CheckView(c["id"], c["status"], c["message"]) for c in results.checks]
    return ReportView(
        title=f"concgrade · {results.task.get('name', '')} · {results.verdict}",
        task=str(results.task.get("name", "")),
        verdict=results.verdict,
        exit_code=results.exit_code,
        error=results.error,
        version=str(results.tool.get("version", "")),
        started_at=results.started_at,
        duration=f"{results.duration_seconds:.1f} s",
        failing_checks=[check for check in checks if check.status != "pass"],
        checks=checks,
        implementations=names,
        summary=summary_rows(results),
        summary_suites=[F2P, P2P],
        suites=sorted({row.suite for row in rows}, key=lambda s: SUITE_ORDER.get(s, 3)),
        outcomes=sorted({cell.outcome for row in rows for cell in row.cells}),
        rows=rows,
        profiles=shown_profiles,
        profiles_hidden=hidden_profiles,
        delta_columns=delta_columns,
        metric_rows=metrics_table,
        findings=findings(results),
        trajectory=[
            TrajectoryView(
                str(entry["path"]), render_markdown(str(entry.get("text", ""))), bool(entry.get("truncated"))
            )
            for entry in results.trajectory
            if not entry.get("binary")
        ],
        diffs=[diff_view(diff) for diff in results.diffs],
        runs=[run_view(name, impl) for name, impl in results.implementations.items()],
        environment=flatten({k: v for k, v in results.environment.items() if k != "isolation"})
        + flatten({"tests_python": results.task.get("python") or {}}),
        python=python_line(results.task.get("python") or {}),
        isolation=flatten({k: v for k, v in (results.environment.get("isolation") or {}).items() if k != "layers"}),
        isolation_layers=list((results.environment.get("isolation") or {}).get("layers") or []),
        reproduce=str(results.reproduce.get("shell", "")),
        omitted_details=omitted,
        counts={"tests": len(rows), "unmet": sum(row.unmet for row in rows)},
        peak_note=peak_note(summary_rows(results)),
        skipped=list(results.skipped),
    )


def peak_note(rows: list[SummaryRow]) -> str:
    """What "peak active" is, and why a sequential before can show more than 1 (a test's own callers)."""
    if all(row.peak is None for row in rows):
        return ""
    notes = ["Peak active: the most calls of a probed function running at the same moment in any one test."]
    for row in rows:
        if row.role == "before" and row.peak is not None and row.peak > 1:
            notes.append(
                f"{row.implementation} reaches {row.peak} in {row.peak_test}: that test starts {row.peak} or more "
                "callers of its own (threads), so even sequential code has that many calls at once, one per caller; "
                "stress mode (--stress, --gate) makes such callers overlap far more often."
            )
    return " ".join(notes)


def expectation(role: str, suite: str | None) -> str | None:
    """What a suite asks of an implementation: FAIL_TO_PASS fails on before, everything graded passes elsewhere."""
    if suite == F2P:
        return "fail" if role == "before" else "pass"
    if suite == P2P:
        return "pass"
    return None


def matrix_rows(results: Results) -> tuple[list[RowView], int]:
    """One row per test, one cell per implementation; failing cells carry excerpts within the page's budget."""
    names = list(results.implementations)
    by_test: dict[str, dict[str, TestResult]] = {}
    suite_of: dict[str, str] = {nodeid: suite for suite, ids in results.suites.items() for nodeid in ids}
    for name, impl in results.implementations.items():
        for test in impl.tests:
            by_test.setdefault(test.nodeid, {})[name] = test
            if test.suite and test.nodeid not in suite_of:
                suite_of[test.nodeid] = test.suite
    rows = []
    for nodeid in sorted(by_test, key=lambda n: (SUITE_ORDER.get(suite_of.get(n, UNGRADED), 3), n)):
        suite = suite_of.get(nodeid, UNGRADED)
        role = {name: results.implementations[name].role for name in names}
        cells = [cell_view(name, role[name], suite, by_test[nodeid].get(name)) for name in names]
        unmet = any(cell.met is False for cell in cells)
        rows.append(RowView(nodeid, suite, cells, unmet, " ".join(sorted({c.outcome for c in cells}))))
    # What explains the verdict first: the tests with an expectation not met (a failing candidate's), then the
    # rest; a before's expected failures are met expectations and come after them.
    rows.sort(key=lambda row: not row.unmet)
    omitted = fit_details(rows, DETAIL_BUDGET)
    expanded = 0
    for row in rows:
        if row.unmet and row.has_details and expanded < EXPANDED_ROWS:
            row.open, expanded = True, expanded + 1
    return rows, omitted


def fit_details(rows: list[RowView], budget: int) -> int:
    """Keep excerpts within `budget` characters: the cells that explain the verdict (an expectation not met)
    get theirs first, then expected failures and captured output. Returns how many cells lost theirs."""
    cells = [cell for row in rows for cell in row.cells if cell.has_details]
    omitted = 0
    for cell in sorted(cells, key=lambda c: c.met is not False):  # stable: page order within each group
        size = len(cell.message) + len(cell.stdout) + len(cell.stderr)
        if size > budget:
            cell.message, cell.stdout, cell.stderr = "", "", ""
            omitted += 1
        else:
            budget -= size
    return omitted


def cell_view(name: str, role: str, suite: str, test: TestResult | None) -> CellView:
    expected = expectation(role, suite if suite != UNGRADED else None)
    if test is None:
        met = None if expected is None else expected == "fail"
        return CellView(name, "missing", expected, met, "", None, [], None, "not collected on this implementation")
    passed = test.passed
    met = None if expected is None else passed == (expected == "pass")
    repeats = repeat_outcomes(test)
    passes = f"{sum(o in ('passed', 'xfailed') for o in repeats)}/{len(repeats)}" if repeats else None
    marks = [MARKS[test.outcome]] if test.outcome in MARKS else []
    if getattr(test, "flaky", False) or (repeats and len(set(repeats)) > 1):
        marks.append("flaky")
    peak = max((int(p.get("max_active", 0)) for p in test.probes if isinstance(p, Mapping)), default=None)
    show = not passed or met is False
    return CellView(
        implementation=name,
        outcome=test.outcome,
        expected=expected,
        met=met,
        duration=f"{test.duration:.2f} s",
        passes=passes,
        marks=marks,
        peak=peak,
        message=excerpt(test.message, MESSAGE_EXCERPT) if show else "",
        stdout=excerpt(test.stdout, OUTPUT_EXCERPT),
        stderr=excerpt(test.stderr, OUTPUT_EXCERPT),
    )


def repeat_outcomes(test: TestResult) -> list[str]:
    """Outcomes over repeats, where the results carry them (a `repeats` list of outcomes or of {outcome})."""
    repeats = getattr(test, "repeats", None) or []
    outcomes = getattr(test, "outcomes", None) or []
    if not repeats and len(outcomes) > 1:  # concgrade's --repeat: each run's outcome, in order
        repeats = outcomes
    return [str(r.get("outcome") if isinstance(r, Mapping) else r) for r in repeats]


def excerpt(text: str, limit: int) -> str:
    """The end of a long text (where pytest puts the assertion and its line), saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"[… {len(text) - limit} characters cut]\n" + text[-limit:]


def summary_rows(results: Results) -> list[SummaryRow]:
    rows = []
    for name, impl in results.implementations.items():
        suites = []
        for suite in (F2P, P2P):
            ids = set(results.suites.get(suite, []))
            tests = [t for t in impl.tests if t.nodeid in ids]
            passed = sum(t.passed for t in tests)
            expected = expectation(impl.role, suite) or "pass"
            met = passed == len(ids) if expected == "pass" else passed == 0
            suites.append(SuiteCount(suite, passed, len(ids), expected, met))
        peak, peak_test = peak_of(impl.tests)
        exit_code = "timed out" if impl.timed_out else str(impl.exit_code)
        rows.append(SummaryRow(name, impl.role, suites, f"{impl.duration_seconds:.1f} s", exit_code, peak, peak_test))
    return rows


def peak_of(tests: Iterable[TestResult]) -> tuple[int | None, str]:
    """The most calls active at once in any test, and the first test that reached it (its node id)."""
    best: tuple[int | None, str] = (None, "")
    for test in tests:
        for figures in test.probes:
            value = int(figures.get("max_active", 0)) if isinstance(figures, Mapping) else 0
            if best[0] is None or value > best[0]:
                best = (value, test.nodeid)
    return best


def profiles(results: Results, limit: int = PROFILES_SHOWN) -> tuple[list[ProfileView], int]:
    """Per test with probes: each probe's figures per implementation, and its timelines as charts.

    At most `limit` tests, those with an expectation not met first, then FAIL_TO_PASS ones (the tests
    that show the refactor's concurrency); returns them and how many more tests had probes.
    """
    names = list(results.implementations)
    probes: dict[str, dict[str, dict[str, Mapping[str, Any]]]] = {}  # nodeid -> label -> implementation -> figures
    suite_of: dict[str, str] = {}
    unmet: set[str] = set()
    for name, impl in results.implementations.items():
        for test in impl.tests:
            expected = expectation(impl.role, test.suite)
            if expected is not None and test.passed != (expected == "pass"):
                unmet.add(test.nodeid)
            for index, figures in enumerate(test.probes):
                if not isinstance(figures, Mapping):
                    continue
                label = str(figures.get("label") or f"probe {index + 1}")
                shown = probes.setdefault(test.nodeid, {}).setdefault(label, {})
                # Over repeats, the figures of the repeat that reached the highest peak (the first of equals).
                if name not in shown or _peak(figures) > _peak(shown[name]):
                    shown[name] = figures
                suite_of[test.nodeid] = test.suite or UNGRADED
    order = sorted(probes, key=lambda n: (n not in unmet, SUITE_ORDER.get(suite_of[n], 3), n))
    views = [
        ProfileView(nodeid, suite_of[nodeid], [probe_view(label, f, names) for label, f in probes[nodeid].items()])
        for nodeid in order[:limit]
    ]
    return views, max(0, len(order) - limit)


# What each figure of a probe counts (docs/concurrency.md), shown beside it so "errors 60" explains itself.
FIGURE_MEANINGS = {
    "max_active": "most calls of the target running at the same moment",
    "kind": "what the probe counts: calls on threads, asyncio coroutines, calls in every process, or pending work",
    "calls": "calls of the target that started during the test",
    "errors": "of those calls, how many raised an exception (tests that make sends fail on purpose count them)",
    "live_threads_at_peak": "threads alive when the most calls were running",
    "max_pending": "most executor futures or pool jobs submitted and not yet done",
    "submitted": "futures and pool jobs submitted during the test",
    "max_live_tasks": "most asyncio tasks alive at once",
    "tasks_created": "asyncio tasks created from inside other tasks",
    "worker_pids": "processes other than the test's own that ran the target",
    "max_processes": "most multiprocessing children alive at once",
    "processes_started": "multiprocessing children started during the test",
    "processes_alive_at_end": "children still alive when the test ended",
    "target": "the probed function",
    "repeat": "the repeat these figures come from (0 is the first): the one that reached the highest peak",
    "error": "why the probe could not measure",
}


def _peak(figures: Mapping[str, Any]) -> float:
    value = figures.get("max_active", 0)
    return float(value) if isinstance(value, (int, float)) else 0.0


def probe_view(label: str, by_impl: dict[str, Mapping[str, Any]], names: list[str]) -> ProbeView:
    present = [name for name in names if name in by_impl]
    scalar_keys: list[str] = []
    for figures in by_impl.values():
        for key, value in figures.items():
            if key not in scalar_keys and key != "label" and is_scalar(value) and not isinstance(value, bool):
                scalar_keys.append(key)
    scalar_keys.sort(key=lambda k: (k != "max_active", k != "kind", k))
    rows = [(key, [fmt(by_impl[name].get(key, "")) for name in present]) for key in scalar_keys]
    series = {
        (name, key): value
        for name in present
        for key, value in by_impl[name].items()
        if key.endswith("timeline") and is_timeline(value)
    }
    top = max((max((float(v) for _, v in points), default=0.0) for points in series.values()), default=1.0)
    charts = [
        step_chart(
            points, f"{name} · {key.replace('_', ' ')}", top, truncated=bool(by_impl[name].get(f"{key}_truncated"))
        )
        for (name, key), points in series.items()
    ]
    meanings = ["", *(FIGURE_MEANINGS.get(key, "") for key in scalar_keys)]
    return ProbeView(label, [("implementation", present), *rows], charts, meanings)


def is_timeline(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(point, (list, tuple)) and len(point) == 2 and all(isinstance(x, (int, float)) for x in point)
        for point in value[:50]
    )


def delta_tables(metrics_delta: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The deltas per comparison ("before→after", "before→candidate"), from either shape the results may hold:
    keyed by comparison, or (older) one flat table of before → after."""
    nested = metrics_delta and all(
        isinstance(table, Mapping) and all(isinstance(change, Mapping) for change in table.values())
        for table in metrics_delta.values()
    )
    if nested:
        return dict(metrics_delta)
    return {"before→after": metrics_delta} if metrics_delta else {}


def metric_rows(results: Results) -> tuple[list[str], list[MetricRow]]:
    """Scalar metrics per implementation, and one delta column per comparison the results give."""
    names = list(results.implementations)
    metrics = {name: impl.metrics or {} for name, impl in results.implementations.items()}
    tables = delta_tables(results.metrics_delta or {})
    keys: list[str] = []
    for values in metrics.values():
        keys += [k for k, v in values.items() if is_scalar(v) and k not in keys]
    for table in tables.values():
        keys += [k for k in table if k not in keys]
    rows = []
    for key in keys:
        cells: list[str] = []
        for name in names:
            value = metrics[name].get(key)
            if not is_scalar(value):
                value = value_from_deltas(tables, key, name)
            cells.append(fmt(value) if value is not None else "")
        deltas: list[str] = []
        directions: list[str] = []
        for table in tables.values():
            change = table.get(key)
            amount = change.get("delta") if isinstance(change, Mapping) else change
            numeric = isinstance(amount, (int, float)) and not isinstance(amount, bool)
            deltas.append(f"{amount:+g}" if numeric and amount else ("0" if numeric else fmt(amount or "")))
            directions.append(("up" if amount > 0 else "down") if numeric and amount else "")
        rows.append(MetricRow(key, cells, deltas, directions))
    return [f"Δ {comparison.replace('→', ' → ')}" for comparison in tables], rows


def value_from_deltas(tables: Mapping[str, Mapping[str, Any]], key: str, name: str) -> Any:
    """A count only the deltas carry (constructs.executor, imports): its value on one side of a comparison."""
    for comparison, table in tables.items():
        change = table.get(key)
        if isinstance(change, Mapping):
            old, _, new = comparison.partition("→")
            if name in (old, new):
                return change.get("before" if name == old else "after")
    return None


def findings(results: Results) -> list[FindingView]:
    """Every finding the results hold: rule findings and constraint violations per implementation, task lint."""
    sources: list[tuple[str, list[dict[str, Any]]]] = [("task (lint)", results.lint)]
    for name, impl in results.implementations.items():
        sources += [(name, impl.findings), (name, impl.violations)]
    views = []
    for implementation, items in sources:
        for item in items:
            path, line = item.get("path") or "", item.get("line")
            rule, severity = item.get("id", ""), item.get("severity", "")
            views.append(
                FindingView(
                    implementation=str(item.get("implementation") or implementation),
                    rule=str(rule),
                    severity=str(severity) + (" (fixed)" if item.get("fixed") else ""),
                    location=f"{path}:{line}" if path and line else str(path),
                    message=str(item.get("message") or ""),
                )
            )
    return views


def diff_view(diff: Mapping[str, Any]) -> DiffView:
    files = []
    for entry in diff.get("files", []):
        lines = [DiffLine(diff_line_kind(line), line) for line in str(entry.get("diff", "")).splitlines()]
        files.append(
            DiffFileView(
                str(entry.get("path")),
                str(entry.get("status")),
                int(entry.get("added", 0)),
                int(entry.get("removed", 0)),
                lines,
                bool(entry.get("truncated")),
            )
        )
    return DiffView(f"{diff.get('from')} → {diff.get('to')}", files, list(diff.get("unchanged", [])))


def diff_line_kind(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "head"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    return "ctx"


def run_view(name: str, impl: Any) -> RunView:
    if impl.timed_out:
        status = "killed at the run's wall-clock limit"
    elif not impl.finished:
        status = "the process died before the session ended"
    else:
        status = "finished"
    return RunView(
        implementation=name,
        role=impl.role,
        folder=impl.folder,
        command=" ".join(impl.command),
        exit_code="none (killed)" if impl.exit_code is None else str(impl.exit_code),
        status=status,
        imports=[
            f"{proof.get('module')} ← {proof.get('file')}"
            + ("" if proof.get("expected") and proof.get("content_matches") else "  (NOT the graded source)")
            for proof in impl.imports
        ],
        problems=list(impl.problems),
        collect_errors=[f"{e.get('nodeid')}: {excerpt(str(e.get('message', '')), 2000)}" for e in impl.collect_errors],
        stdout_tail=excerpt(impl.stdout_tail, OUTPUT_EXCERPT * 2),
        stderr_tail=excerpt(impl.stderr_tail, OUTPUT_EXCERPT * 2),
        processes=[
            {**attempt, "stacks": excerpt(str(attempt.get("stacks", "")), OUTPUT_EXCERPT * 2)}
            for attempt in getattr(impl, "attempts", [])
        ],
        findings=[
            *getattr(impl, "limit_breaches", []),
            *getattr(impl, "tampering", []),
            *(f"changed: {name}" for name in getattr(impl, "changed_files", [])),
            *(f"left running: {name}" for name in getattr(impl, "leftovers", [])),
            *getattr(impl, "hangs", []),
        ],
    )


def is_scalar(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool)) and not (isinstance(value, str) and len(value) > 200)


def fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def python_line(python: Mapping[str, Any]) -> str:
    """One line on the interpreter the tests ran on (the harness's own Python, above, may be another)."""
    if not python.get("version"):
        return ""
    line = f"tests ran on Python {python['version']}"
    if python.get("requested"):
        line += f" ({python.get('source') or 'asked for ' + str(python['requested'])})"
    return line + (f": {python['note']}" if python.get("note") else "")


def flatten(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested mappings as (dotted key, text) rows; lists of scalars joined, other lists summarized."""
    rows: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows += flatten(value, name + ".") if value else [(name, "")]
        elif isinstance(value, (list, tuple)):
            rows.append(
                (name, ", ".join(fmt(v) for v in value) if all(is_scalar(v) for v in value) else list_text(value))
            )
        else:
            rows.append((name, fmt(value) if value is not None else ""))
    return rows


def list_text(values: Iterable[Any]) -> str:
    import json

    return json.dumps(list(values), default=str)[:2000]
