"""Why a check failed, one line per test in pytest's short-summary style (`FAILED id - AssertionError: ...`).

The terminal and the Markdown summary print these under each failing check, so a reader sees the cause
(the assertion, the error, the SyntaxError that stopped collection) without opening the HTML report.
Pure: reads the results model only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from concgrade.results.model import ImplementationResult, Results, TestResult

CAUSES_SHOWN = 5  # tests listed under one check before "and N more"
LINE_LIMIT = 200
FILE_LINE = re.compile(r'File "(?P<path>[^"]+)", line (?P<line>\d+)')
# Outcomes whose word pytest's summary uses, upper-cased (the others print as concgrade names them).
SUMMARY_WORDS = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR", "skipped": "SKIPPED", "xpassed": "XPASS"}


def cause_lines(results: Results, check: Mapping[str, Any]) -> list[str]:
    """The lines that say why `check` failed: its tests with their first error line, or what stopped the run."""
    impl = results.implementations.get(check.get("implementation") or "")
    if check["id"] == "suites.ran" or (check["id"].startswith("implementation.proved.") and impl is not None):
        impls = [impl] if impl is not None else list(results.implementations.values())
        return [line for each in impls for line in collection_lines(each)]
    if impl is None or not check.get("tests"):
        return []
    return test_lines(impl, check["tests"])


def test_lines(impl: ImplementationResult, nodeids: Sequence[str]) -> list[str]:
    """One line per test that ran; the tests that never ran share one line saying why they did not."""
    by_id = {test.nodeid: test for test in impl.tests}
    ran = [by_id[n] for n in nodeids if n in by_id and by_id[n].outcome != "missing"]
    never = [n for n in nodeids if n not in by_id or by_id[n].outcome == "missing"]
    lines = [test_line(test, impl.name) for test in ran[:CAUSES_SHOWN]]
    if len(ran) > CAUSES_SHOWN:
        lines.append(f"... and {len(ran) - CAUSES_SHOWN} more (report.html has each one)")
    if never:
        lines.append(f"{len(never)} never ran on {impl.name}: {why_not_run(impl)}")
    return lines


def test_line(test: TestResult, implementation: str) -> str:
    word = SUMMARY_WORDS.get(test.outcome, test.outcome.upper())
    reason = first_error_line(test.message)
    return clip(f"{word} {test.nodeid} ({implementation})" + (f" - {reason}" if reason else ""))


def collection_lines(impl: ImplementationResult) -> list[str]:
    """`ERROR file (impl) - SyntaxError: ...` for the files whose collection failed on this implementation;
    files that failed for the same reason (one broken module imported by every test file) share a line."""
    by_reason: dict[str, list[str]] = {}
    for error in impl.collect_errors:
        reason = collection_error(error.get("message", ""))
        by_reason.setdefault(reason, []).append(error.get("nodeid") or "the session")
    return [clip(f"ERROR {', '.join(files)} ({impl.name}) - {reason}") for reason, files in by_reason.items()]


def why_not_run(impl: ImplementationResult) -> str:
    """Why tests of an implementation have no outcome: collection failed, the run never started, or died."""
    if impl.collect_errors:
        return f"their collection failed: {collection_error(impl.collect_errors[0].get('message', ''))}"
    if impl.timed_out:
        return "the run hit its wall-clock limit before them"
    if not impl.finished:
        tail = last_line(impl.stderr_tail) or last_line(impl.stdout_tail)
        return f"the test process ended before them (exit {impl.exit_code})" + (f": {tail}" if tail else "")
    return "pytest did not collect them (a renamed or deselected test?)"


def first_error_line(message: str) -> str:
    """pytest's reason for a failure: the first `E` line of the traceback (the assertion or the exception)."""
    for line in message.splitlines():
        if line.startswith("E ") and line[1:].strip():
            return line[1:].strip()
    return last_line(message)


def collection_error(message: str) -> str:
    """The exception that stopped collection, with where it was raised when pytest says (a SyntaxError's line)."""
    lines = [line[1:].strip() for line in message.splitlines() if line.startswith("E ") and line[1:].strip()]
    if not lines:
        return last_line(message) or "collection failed"
    exception = lines[-1]
    for index, line in enumerate(lines[:-1]):
        located = FILE_LINE.search(line)
        if located:
            path = "/".join(located["path"].split("/")[-2:])  # the scratch copy's folders say nothing
            code = lines[index + 1] if index + 1 < len(lines) - 1 else ""
            source = f": {code}" if code and set(code) != {"^"} else ""
            return f"{exception} ({path}, line {located['line']}{source})"
    return exception


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def clip(line: str, limit: int = LINE_LIMIT) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"
