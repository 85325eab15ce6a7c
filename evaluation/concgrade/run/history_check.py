"""Checks recorded histories against the sequential model in a process of its own.

    python -m concgrade.run.history_check SPEC.json HISTORY.json [HISTORY.json ...] VERDICTS.json

The model is the reference implementation replayed (inside/history_replay.py), so this process runs
task code: the runner starts it like any run, in the sandbox, with before's folder importable (after's
for a greenfield task), never the candidate's. It imports only the checker (pure, standard library)
and the in-process replay, and writes one JSON list of verdicts, one per history, in order.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from concgrade.grade.linearizability import (
    DEFAULT_BUDGET_SECONDS,
    MalformedHistory,
    SequentialModel,
    UniqueResults,
    check,
    history_from_json,
    outcomes_match,
    partition_by_argument,
    per_method,
)
from concgrade.inside.history_replay import REPLAY, StateNotCopyable, compare_hooks, replay_model, unique_methods


def check_recorded(
    spec: Mapping[str, Any], recorded: Mapping[str, Any], clock: Callable[[], float] = time.monotonic
) -> dict[str, Any]:
    """One driver output judged: the verdict as JSON-ready data (status "error" when there is nothing to judge)."""
    if not recorded.get("ok"):
        return {"status": "error", "message": f"the recording failed: {recorded.get('error', 'no history')}"}
    try:
        history = history_from_json(recorded)
    except MalformedHistory as exc:
        return {"status": "error", "message": f"the recorded history is malformed: {exc}"}
    methods = {op.method for op in history.operations}
    partition = spec.get("partition_by")
    hooks = compare_hooks(spec)
    compare = per_method({m: h for m, h in hooks.items() if m}, default=hooks.get("", outcomes_match))
    budget = spec.get("budget_seconds", DEFAULT_BUDGET_SECONDS)
    unique = unique_methods(spec, methods)
    for strategy in ("auto", REPLAY):
        replay = replay_model(spec, strategy)
        model: SequentialModel = UniqueResults(replay, unique) if unique else replay
        try:
            verdict = check(
                history,
                model,
                compare=compare,
                partition=partition_by_argument(partition) if partition is not None else None,
                budget_seconds=budget,
                clock=clock,
            )
        except StateNotCopyable:
            continue  # the object stopped pickling mid-search: replay it from scratch instead
        return {**verdict.to_json(), "model": replay.strategy}
    raise AssertionError("the replay strategy never copies a state")


def main(argv: list[str]) -> None:
    spec_path, *history_paths, out_path = argv
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    verdicts = []
    for path in history_paths:
        with open(path, encoding="utf-8") as handle:
            verdicts.append(check_recorded(spec, json.load(handle)))
    data = json.dumps(verdicts, default=str)
    with open(out_path, "w", encoding="utf-8") as handle:
        handle.write(data)
    sys.stdout.flush()
    os._exit(0)  # threads the reference implementation started cannot keep this process alive


if __name__ == "__main__":
    main(sys.argv[1:])
