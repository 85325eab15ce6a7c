"""What a grade prints on the terminal: progress while runs are in flight (stderr), then a compact summary table."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from concgrade.grade.outcomes import RunObservation
from concgrade.report.bench_terminal import bench_lines
from concgrade.report.causes import cause_lines, collection_error
from concgrade.report.history_terminal import counterexample_lines, history_lines
from concgrade.report.mutants_terminal import mutants_lines
from concgrade.report.view import summary_rows
from concgrade.results.model import Results
from concgrade.task.model import F2P, P2P


def repeat_lines(results: Results) -> list[str]:
    """With --repeat or --stress: how many runs each implementation had, and the seed that replays them."""
    nondeterminism = results.nondeterminism
    if nondeterminism.get("repeat", 1) <= 1 and not nondeterminism.get("stress"):
        return []
    runs = ", ".join(f"{name} {count}" for name, count in nondeterminism.get("runs", {}).items())
    stress = f" · stress seed {nondeterminism['seed']} (--seed replays it)" if nondeterminism.get("stress") else ""
    return [f"  repeats {nondeterminism['repeat']} (ran: {runs}){stress}"]


def format_summary(results: Results, verbose: bool = False) -> str:
    """A table of implementations × suites (passed/total, and whether that is what the suite asks), then the
    failing checks, each with the lines that say why (pytest's short summary style); `verbose` adds every
    test's outcome and the passing checks."""
    rows = summary_rows(results)
    suites = [count.suite for count in rows[0].suites] if rows else []
    header = ["implementation", "role", *suites, "peak", "exit", "time"]
    table = [header]
    for row in rows:
        cells = [f"{c.passed}/{c.total} {'ok' if c.met else 'NOT OK'}" for c in row.suites]
        peak = "" if row.peak is None else str(row.peak)
        table.append([row.implementation, row.role, *cells, peak, row.exit_code, row.duration])
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = [
        f"concgrade {results.tool['version']} · task {results.task['name']} · "
        f"{sum(results.nondeterminism.get('runs', {}).values()) or len(results.implementations)} runs "
        f"in {results.duration_seconds:.1f} s"
    ]
    lines += repeat_lines(results)
    lines += [
        "  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table
    ]
    lines.append(
        "  (passed/total; FAIL_TO_PASS should fail on before and pass on the others, PASS_TO_PASS pass on all)"
    )
    unavailable = (results.environment.get("isolation") or {}).get("unavailable") or {}
    if unavailable:
        lines.append("  isolation: not available here: " + ", ".join(sorted(unavailable)) + " (see report)")
    lines += bench_lines(results)
    lines += history_lines(results)
    lines += mutants_lines(results)
    lines += [f"  skipped {entry['phase']}: {entry['reason']}" for entry in results.skipped]
    if verbose:
        lines += test_outcome_lines(results)
    shown: set[str] = set()  # a cause several checks share (a collection error) is printed once
    for check in results.checks:
        if check["status"] != "pass":
            lines.append(f"  ✗ {check['id']}: {check['message']}")
            causes = [line for line in cause_lines(results, check) if line not in shown]
            shown.update(causes)
            lines += [f"      {line}" for line in causes]
            lines += counterexample_lines(results, check)
        elif verbose:
            lines.append(f"  ✓ {check['id']}: {check['message']}")
    lines.append(f"verdict: {results.verdict} (exit {results.exit_code})")
    return shown_safely("\n".join(lines))


# Characters a terminal acts on instead of showing: C0 and C1 controls (ESC starts sequences that move the cursor,
# clear the screen or set the title; \r rewrites the line) and the bidirectional overrides. Messages come from the
# code under test: an exception's text could otherwise erase the verdict line and print one of its own.
_ACTING = {code: f"\\x{code:02x}" for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(code) not in "\n\t"} | {
    code: f"\\u{code:04x}" for code in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
}


def shown_safely(text: str) -> str:
    """`text` with every character a terminal would act on written as its escape (new lines and tabs kept)."""
    return text.translate(_ACTING)


def test_outcome_lines(results: Results) -> list[str]:
    """Every graded test with its outcome on each implementation (`-v`), FAIL_TO_PASS first."""
    names = list(results.implementations)
    outcomes = {
        name: {test.nodeid: test.outcome for test in impl.tests} for name, impl in results.implementations.items()
    }
    lines = [f"  tests ({' · '.join(names)}):"]
    for suite, short in ((F2P, "F2P"), (P2P, "P2P")):
        for nodeid in results.suites.get(suite, []):
            cells = " · ".join(outcomes[name].get(nodeid, "missing") for name in names)
            lines.append(f"    {short}  {nodeid}  {cells}")
    return lines


class Progress:
    """Reports runs as they finish, and every `interval` seconds which ones are still running, on stderr."""

    def __init__(
        self, names: Sequence[str], jobs: int, stream: TextIO = sys.stderr, interval: float = 15.0, repeat: int = 1
    ) -> None:
        # With --repeat each implementation runs several times: one label per run ("after #2").
        self.repeat = repeat
        self.names = [f"{name} #{index + 1}" if repeat > 1 else name for index in range(repeat) for name in names]
        self.jobs = jobs
        self.stream = stream
        self.interval = interval
        self.done: list[str] = []
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self, task_name: str) -> None:
        at_once = min(self.jobs, len(self.names))
        self._print(f"grading {task_name}: {len(self.names)} runs ({', '.join(self.names)}), {at_once} at a time")
        self._ticker = threading.Thread(target=self._tick, name="concgrade-progress", daemon=True)
        self._ticker.start()

    def run_done(self, run: RunObservation) -> None:
        """Called once per finished run (already observed): one line with its outcome counts."""
        label = f"{run.name} #{run.repeat + 1}" if self.repeat > 1 else run.name
        with self._lock:
            self.done.append(label)
            position = len(self.done)
        counts = Counter(test.outcome for test in run.tests.values())
        text = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "no test ran"
        if run.collect_errors:
            text += (
                f" ({len(run.collect_errors)} collection errors: {collection_error(run.collect_errors[0]['message'])})"
            )
        note = " (killed at the run's time limit)" if run.timed_out else ""
        self._print(f"  [{position}/{len(self.names)}] {label}: {text} in {run.duration:.1f}s{note}")

    def stop(self) -> None:
        self._stop.set()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                running = [name for name in self.names if name not in self.done]
            if running:
                elapsed = time.monotonic() - self.started
                self._print(f"  … {elapsed:.0f}s, not finished yet: {', '.join(running)}")

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)
