"""The terminal timeline of a counterexample."""

from __future__ import annotations

from concgrade.grade.counterexample import Counterexample
from concgrade.grade.linearizability import Model, Operation, Outcome, check, returns
from concgrade.report.history_text import LABEL_LIMIT, label, layout, render_counterexample, timeline


def op(index: int, client: int, method: str, args: tuple, value: object, invoked: int, responded: int | None):
    outcome = None if responded is None else Outcome(value)
    return Operation(index, client, method, args, outcome, invoked, responded)


def lost_update() -> list[Operation]:
    return [
        op(0, 0, "incr", ("a",), 1, 0, 10),
        op(1, 0, "incr", ("a",), 2, 20, 30),
        op(2, 0, "incr", ("a",), 3, 100, 150),
        op(3, 1, "incr", ("a",), 3, 110, 160),
    ]


COUNTER = Model(lambda: 0, lambda s, o: (s + 1, returns(s + 1)))


def test_a_lost_update_drawn_as_two_overlapping_bars_with_the_impossible_response_marked() -> None:
    found = check(lost_update(), COUNTER).counterexample
    assert found is not None
    text = render_counterexample(found, total=4, seed=11)
    assert text.splitlines() == [
        "Not linearizable: a counterexample of 2 operations of 4",
        "It starts after 2 earlier operations, which leave the model in 2",
        "thread 0 | [incr('a')=3]",
        "thread 1 |  [incr('a')=3]",
        "         |              ^ impossible: thread 1: incr('a') answered 3 where the sequential model allows 4",
        "Order of the recorded invocations and responses, not to scale (0.1 µs from the first invocation to the last"
        " response).",
        "Replay: seed 11.",
    ]


def test_bars_keep_the_recorded_order_of_events() -> None:
    history = [
        op(0, 0, "write", (1,), None, 0, 50),
        op(1, 1, "read", (), 0, 10, 20),
        op(2, 2, "read", (), 1, 30, 40),
        op(3, 1, "read", (), 1, 60, 70),
    ]
    bars = {bar.op.index: bar for bar in layout(history)}
    # Invocations in time order get increasing columns; a response comes after everything before it.
    assert bars[0].start < bars[1].start < bars[1].end < bars[2].start < bars[2].end < bars[0].end < bars[3].start
    for bar in bars.values():
        assert bar.end is not None and bar.end - bar.start > len(bar.label)  # room for the label


def test_sequential_operations_of_one_thread_never_overlap_on_its_line() -> None:
    lines = timeline([op(i, 0, "incr", (), i + 1, 10 * i, 10 * i + 5) for i in range(3)])
    assert lines == ["thread 0 | [incr()=1][incr()=2][incr()=3]"]


def test_an_operation_without_a_response_is_an_open_bar_to_the_right_edge() -> None:
    lines = timeline([op(0, 0, "put", (1,), None, 0, None), op(1, 1, "get", (), 1, 10, 20)])
    assert lines[0].startswith("thread 0 | [put(1)…") and lines[0].endswith("->")
    assert lines[1] == "thread 1 |  [get()=1]"


def test_labels_show_exceptions_and_are_cut_when_long() -> None:
    raised = Operation(0, 0, "take", (), Outcome(None, "KeyError"), 0, 10)
    assert label(raised) == "take()!KeyError"
    long = op(1, 0, "put", ("x" * 100,), None, 0, 10)
    assert len(label(long)) == LABEL_LIMIT and label(long).endswith("…")


def test_a_counterexample_cut_short_by_the_budget_says_so() -> None:
    found = Counterexample(tuple(lost_update()), 3, (), 0, "0", None, False, 4)
    assert "a smaller counterexample may exist" in render_counterexample(found)
