"""The histories' lines in the terminal summary: the seed, and under a failing check its counterexample's timeline."""

from __future__ import annotations

from typing import Any

from concgrade.grade.counterexample import Counterexample
from concgrade.histories.gate import check_id
from concgrade.report.history_text import render_counterexample
from concgrade.results.model import Results

INDENT = "      "


def history_lines(results: Results) -> list[str]:
    """One line when the task declares histories: how many, the seed that replays them, the time they took."""
    found = results.histories
    if found is None:
        return []
    names = ", ".join(history.name for history in found.histories)
    return [f"  histories {names}: seed {found.seed} (--seed replays it), {found.seconds:.1f} s"]


def counterexample_lines(results: Results, check: dict[str, Any]) -> list[str]:
    """Under a failing `history.linearizable.*` check: the counterexample as a timeline, indented; else nothing."""
    found = results.histories
    if found is None or check.get("status") != "fail":
        return []
    for history in found.histories:
        for impl in history.implementations:
            if check_id(history.name, impl.implementation) != check.get("id"):
                continue
            run = impl.first_violation()
            counterexample = ((run.verdict or {}).get("counterexample") if run else None) or None
            if run is None or counterexample is None:
                return []
            text = render_counterexample(Counterexample.from_json(counterexample), run.operations, run.seed)
            return [INDENT + line for line in text.splitlines()]
    return []
