"""A counterexample to linearizability as plain text: one line per thread, each operation a bar, in time order.

    thread 0 | [incr('a')=5]
    thread 1 |      [incr('a')=5    ]
             |                      ^ impossible: thread 1: incr('a') answered 5 where the sequential model allows 6

Bars are placed by the order of the recorded invocations and responses (not to scale: nanoseconds
apart or milliseconds, what matters for linearizability is which came first), each as wide as its
label. An operation still running at the moment shown has an open bar to the right edge.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from concgrade.grade.counterexample import Counterexample
from concgrade.grade.history import Operation

LABEL_LIMIT = 32  # characters of one bar's label; longer ones end in "…"
RUNNING = "…"  # the end of the label of an operation without a response


@dataclass(frozen=True)
class Bar:
    op: Operation
    label: str
    start: int  # column of "["
    end: int | None  # column of "]", None for an operation still running


def render_counterexample(counterexample: Counterexample, total: int | None = None, seed: int | None = None) -> str:
    """The whole text block: what it shows, the timeline, the impossible response, how to replay it."""
    found = counterexample
    count = len(found.operations)
    shown = f"{count} {'operation' if count == 1 else 'operations'}" + (f" of {total}" if total else "")
    lines = [
        f"Not linearizable: a counterexample of {shown}"
        + (f" (partition {found.partition})" if found.partition else "")
    ]
    if found.preceding:
        earlier = (
            "1 earlier operation, which leaves"
            if found.preceding == 1
            else f"{found.preceding} earlier operations, which leave"
        )
        lines.append(f"It starts after {earlier} the model in {found.start_state}")
    lines.extend(timeline(found.operations, found.impossible, found.explanation()))
    span = _span_microseconds(found.operations)
    lines.append(f"Order of the recorded invocations and responses, not to scale ({span}).")
    if not found.minimal:
        lines.append("The time budget ran out while shrinking: a smaller counterexample may exist.")
    if seed is not None:
        lines.append(f"Replay: seed {seed}.")
    return "\n".join(lines)


def timeline(operations: Sequence[Operation], impossible: int | None = None, note: str = "") -> list[str]:
    """One line per thread, the operations as bars; under the impossible one's response, a caret and `note`."""
    bars = layout(operations)
    if not bars:
        return []
    width = max((bar.end if bar.end is not None else bar.start + len(bar.label) + 1) for bar in bars) + 2
    clients = sorted({bar.op.client for bar in bars})
    names = {client: f"thread {client}" for client in clients}
    margin = max(len(name) for name in names.values())
    lines = []
    for client in clients:
        row = [" "] * width
        for bar in (bar for bar in bars if bar.op.client == client):
            _draw(row, bar, width)
        lines.append(f"{names[client]:<{margin}} | {''.join(row).rstrip()}")
        marked = next((bar for bar in bars if bar.op.client == client and bar.op.index == impossible), None)
        if marked is not None and marked.end is not None:
            lines.append(f"{'':<{margin}} | {' ' * marked.end}^ impossible" + (f": {note}" if note else ""))
    return lines


def layout(operations: Sequence[Operation]) -> list[Bar]:
    """Columns for every bar: events keep their recorded order, and each bar has room for its label."""
    labels = {op.index: label(op) for op in operations}
    events = sorted(
        [(op.invoked, 0, op.index) for op in operations]
        + [(math.inf if op.responded is None else op.responded, 1, op.index) for op in operations]
    )
    by_index = {op.index: op for op in operations}
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    cursor = 0
    for moment, kind, index in events:
        if kind == 0:
            starts[index] = cursor
            cursor += 1
        elif moment != math.inf:
            ends[index] = max(cursor, starts[index] + len(labels[index]) + 1)
            cursor = ends[index] + 1
    return [Bar(by_index[i], labels[i], starts[i], ends.get(i)) for i in sorted(starts, key=lambda i: starts[i])]


def label(op: Operation) -> str:
    """`incr('a')=5`, `take()!KeyError`, `get()…` (still running)."""
    if op.outcome is None:
        text = f"{op.call_text()}{RUNNING}"
    elif op.outcome.raised:
        text = f"{op.call_text()}!{op.outcome.raised}"
    else:
        text = f"{op.call_text()}={op.outcome.value!r}"
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1] + "…"


def _draw(row: list[str], bar: Bar, width: int) -> None:
    end = bar.end if bar.end is not None else width - 1
    row[bar.start] = "["
    for offset, char in enumerate(bar.label):
        row[bar.start + 1 + offset] = char
    if bar.end is not None:
        row[end] = "]"
    else:
        for column in range(bar.start + 1 + len(bar.label), width):
            row[column] = "-"
        row[width - 1] = ">"


def _span_microseconds(operations: Sequence[Operation]) -> str:
    first = min(op.invoked for op in operations)
    last = max(op.responded if op.responded is not None else op.invoked for op in operations)
    return f"{(last - first) / 1000:.1f} µs from the first invocation to the last response"
