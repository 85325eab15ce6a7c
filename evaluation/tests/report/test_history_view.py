"""A counterexample as the reports draw it: back from results.json's data, as SVG geometry and as terminal text."""

from __future__ import annotations

from concgrade.grade.counterexample import Counterexample
from concgrade.grade.history import Operation, Outcome
from concgrade.grade.linearizability import VIOLATION, Model, check, returns
from concgrade.report.history_view import counterexample_diagram, replay_command
from concgrade.results.model import Results


def counter() -> Model:
    def step(total, op):
        return total + 1, returns(total + 1)

    return Model(lambda: 0, step)


def lost_update() -> Counterexample:
    """Two increments that overlap both answer 1; a third, later one answers 2: one increment was lost."""
    ops = [
        Operation(0, 0, "incr", (), Outcome(1), 10, 40),
        Operation(1, 1, "incr", (), Outcome(1), 20, 50),
        Operation(2, 2, "incr", (), None, 30, None),  # still running
    ]
    verdict = check(ops, counter())
    assert verdict.status == VIOLATION and verdict.counterexample is not None
    return verdict.counterexample


def test_a_counterexample_survives_results_json():
    found = lost_update()
    again = Counterexample.from_json(found.to_json())
    assert again.operations == found.operations
    assert again.explanation() == found.explanation()
    assert (again.impossible, again.allowed, again.preceding, again.minimal) == (
        found.impossible,
        found.allowed,
        found.preceding,
        found.minimal,
    )


def test_the_drawing_has_a_line_per_thread_bars_in_event_order_and_the_impossible_response_marked():
    found = lost_update()
    diagram = counterexample_diagram(found)
    assert [t["label"] for t in diagram["threads"]] == [f"thread {op.client}" for op in found.operations]
    bars = {bar["label"]: bar for bar in diagram["bars"]}
    impossible = [bar for bar in diagram["bars"] if bar["impossible"]]
    assert len(impossible) == 1 and impossible[0]["title"].startswith(f"thread {found.impossible_operation().client}")
    assert diagram["marker"]["x"] == impossible[0]["x"] + impossible[0]["width"]  # at its response
    first, second = sorted(diagram["bars"], key=lambda bar: bar["x"])[:2]
    assert first["x"] < second["x"] < first["x"] + first["width"]  # overlapping calls overlap in the drawing
    running = [bar for bar in diagram["bars"] if bar["running"]]
    assert [bar["label"] for bar in running] == ["incr()…"] and bars["incr()…"]["x"] + bars["incr()…"][
        "width"
    ] < diagram["width"]
    assert diagram["marker"]["x"] + 150 < diagram["width"]  # room for the note


def test_the_replay_command_is_the_grade_s_own_with_the_seed_put_in():
    results = Results.__new__(Results)
    object.__setattr__(results, "reproduce", {"argv": ["concgrade", "--task", "t", "--seed", "3"], "cwd": "/w d"})
    assert replay_command(results, 8) == "cd '/w d' && concgrade --task t --seed 8"
    object.__setattr__(results, "reproduce", {})
    assert replay_command(results, 8) == "--seed 8"
