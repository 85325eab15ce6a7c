"""The view model of the report's histories section: each history's verdicts, and each counterexample as SVG bars.

A counterexample is drawn as the terminal draws it (history_text.layout: columns in the recorded order of
invocations and responses, not to scale): one line per thread, each operation a bar as wide as its label,
an operation still running an open bar to the right edge, the impossible response in red with its note.
The template only loops and prints; every coordinate is computed here from `results.histories`.
"""

from __future__ import annotations

import shlex
from typing import Any

from concgrade.grade.counterexample import Counterexample
from concgrade.report.history_text import layout
from concgrade.results.model import Results

COLUMN = 7  # pixels per column: a label's character in the 11 px monospace font, and one event
LEFT = 72  # room for "thread N"
ROW = 30  # height of one thread's line
BAR = 20  # height of a bar
TOP = 8
NOTE = 34  # room under the rows for the impossible response's note
NOTE_WIDTH = 170  # and to the right of the marker, for its text


def histories_view(results: Results) -> dict[str, Any] | None:
    found = getattr(results, "histories", None)
    if found is None:
        return None
    return {
        "seed": found.seed,
        "seconds": found.seconds,
        "reference": found.reference,
        "notes": found.notes,
        "histories": [history_view(history, results) for history in found.histories],
    }


def history_view(history: Any, results: Results) -> dict[str, Any]:
    diagrams = []
    for impl in history.implementations:
        run = impl.first_violation()
        data = (run.verdict or {}).get("counterexample") if run is not None else None
        if run is not None and data:
            diagram = counterexample_diagram(Counterexample.from_json(data))
            diagrams.append(
                {
                    "implementation": impl.implementation,
                    "graded": impl.graded,
                    "seed": run.seed,
                    "total": run.operations,
                    "replay": replay_command(results, run.seed),
                    **diagram,
                }
            )
    return {
        "name": history.name,
        "description": history.description,
        "target": history.target,
        "threads": history.threads,
        "operations_per_thread": history.operations_per_thread,
        "asyncio": history.asyncio,
        "stress": history.stress,
        "seeds": history.seeds,
        "model": history.model,
        "rows": [implementation_row(impl) for impl in history.implementations],
        "diagrams": diagrams,
    }


def implementation_row(impl: Any) -> dict[str, Any]:
    outcomes: dict[str, int] = {}
    for run in impl.runs:
        outcomes[run.outcome] = outcomes.get(run.outcome, 0) + 1
    return {
        "implementation": impl.implementation,
        "graded": impl.graded,
        "status": impl.status,
        "message": impl.message,
        "outcomes": ", ".join(f"{count} {outcome}" for outcome, count in outcomes.items()),
        "seconds": f"{sum(run.record_seconds + run.check_seconds for run in impl.runs):.2f} s",
    }


def counterexample_diagram(counterexample: Counterexample) -> dict[str, Any]:
    """Bars and labels in SVG user units, one row per thread, and the impossible response's marker and note."""
    bars = layout(counterexample.operations)
    clients = sorted({bar.op.client for bar in bars})
    row_of = {client: index for index, client in enumerate(clients)}
    last = max((bar.end if bar.end is not None else bar.start + len(bar.label) + 1) for bar in bars) + 3
    width = LEFT + last * COLUMN + 8
    drawn = []
    marker = None
    for bar in bars:
        y = TOP + row_of[bar.op.client] * ROW
        x = LEFT + bar.start * COLUMN
        end = LEFT + (bar.end + 1) * COLUMN if bar.end is not None else width - 4
        impossible = bar.op.index == counterexample.impossible
        drawn.append(
            {
                "x": x,
                "y": y,
                "width": end - x,
                "label": bar.label,
                "label_x": x + COLUMN // 2 + 1,
                "label_y": y + BAR - 6,
                "running": bar.end is None,
                "impossible": impossible,
                "title": f"thread {bar.op.client}: {bar.op.call_text()} answered {bar.op.outcome_text()}",
            }
        )
        if impossible:
            marker = {"x": end, "y0": y - 3, "y1": TOP + len(clients) * ROW + 4}
    height = TOP + len(clients) * ROW + NOTE
    if marker is not None:
        width = max(width, marker["x"] + NOTE_WIDTH)  # the note under the marker stays inside the drawing
    return {
        "width": width,
        "height": height,
        "threads": [{"label": f"thread {client}", "y": TOP + row_of[client] * ROW + BAR - 6} for client in clients],
        "bars": drawn,
        "marker": marker,
        "note_y": TOP + len(clients) * ROW + 20,
        "explanation": counterexample.explanation(),
        "operations": len(counterexample.operations),
        "preceding": counterexample.preceding,
        "start_state": counterexample.start_state,
        "partition": counterexample.partition,
        "minimal": counterexample.minimal,
    }


def replay_command(results: Results, seed: int) -> str:
    """The grade's own command line with `--seed SEED` (any earlier --seed replaced), or just the flag."""
    argv = list(results.reproduce.get("argv") or [])
    if not argv:
        return f"--seed {seed}"
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--seed":
            skip = True
            continue
        if not arg.startswith("--seed="):
            kept.append(arg)
    command = shlex.join([*kept, "--seed", str(seed)])
    cwd = results.reproduce.get("cwd")
    return f"cd {shlex.quote(str(cwd))} && {command}" if cwd else command
