"""A recording's records made into one history, and every way they are refused: forged, cut, altered, not as planned."""

from __future__ import annotations

from typing import Any

import pytest
from history_shapes import SHAPES

from concgrade.inside import protocol
from concgrade.inside.history_spec import plan_calls
from concgrade.run.history_runs import assemble, history_of
from concgrade.run.outputs import AttemptOutput

SEED = 3
OPENED, CLOSED = 1_000, 900_000


def child() -> dict[str, Any]:
    return SHAPES["hit-counter"].spec(SEED, threads=2, operations_per_thread=3)


def driver_record(spec: dict[str, Any]) -> dict[str, Any]:
    """What the driver sends for `spec`: every planned call, one thread per client, answered inside the window."""
    operations, moment = [], 2_000
    for client, plan in enumerate(plan_calls(spec)):
        for method, args in plan:
            operations.append(
                {"client": client, "method": method, "args": args, "invoked": moment, "responded": moment + 10}
            )
            operations[-1].update(value=1, thread=100 + client)
            moment += 20
    for index, op in enumerate(operations):
        op["index"] = index
    return {
        "format": 1,
        "seed": SEED,
        "ok": True,
        "phase": "done",
        "timed_out": False,
        "window": [1_500, moment + 100],
        "imported": {"module": "shape", "file": "/x/shape.py", "sha256": "ab"},
        "operations": operations,
    }


def records_of(record: dict[str, Any], chunk: int = 4) -> list[dict[str, Any]]:
    run = {key: value for key, value in record.items() if key != "operations"}
    ops = record["operations"]
    sent = [protocol.history_calls(first, ops[first : first + chunk]) for first in range(0, len(ops), chunk)]
    return [*sent, protocol.history(run, len(ops))]


def attempt(records: list[dict[str, Any]], **changes: Any) -> AttemptOutput:
    fields: dict[str, Any] = {
        "index": 0,
        "command": [],
        "node_ids": [],
        "exit_code": 0,
        "exit_description": "exited with status 0",
        "ended_by": "exit",
        "duration": 0.5,
        "records": records,
        "json_report": None,
        "stdout_tail": "",
        "stderr_tail": "",
    }
    return AttemptOutput(**{**fields, **changes})


def proved(found: dict[str, Any] | None) -> dict[str, Any] | None:
    return {**found, "expected": True} if found else None


def judge(record: dict[str, Any], **changes: Any):
    return assemble("after", SEED, attempt(records_of(record), **changes), (OPENED, CLOSED), proved, child())


def test_chunks_and_the_closing_record_make_the_history_the_driver_recorded():
    record = driver_record(child())
    recorded = judge(record)
    assert recorded.problem == "" and not recorded.tampered
    assert recorded.history is not None and recorded.history["operations"] == record["operations"]
    assert recorded.imported == {**record["imported"], "expected": True}


def test_records_out_of_order_or_missing_are_no_history():
    records = records_of(driver_record(child()))
    assert history_of([records[1], records[0], records[-1]])[1] == "the recorded history arrived out of order"
    assert history_of([records[0], records[-1]])[1] == "the recorded history is incomplete: 4 of 6 operations"
    assert history_of(records[:-1]) == (None, "")  # no closing record: the driver never finished sending


@pytest.mark.parametrize(
    ("change", "problem", "tampered"),
    [
        ({"forged_lines": ["0 00 {}"]}, "1 line(s) on the records channel were not signed by the driver", True),
        ({"ended_by": "wall_clock"}, "the recording ran past its 0s and was killed (wall_clock)", False),
        ({"limit_breaches": ["memory: 5000 MiB"]}, "the recording broke a limit: memory: 5000 MiB", False),
    ],
)
def test_a_process_that_was_interfered_with_or_killed_gives_no_history(change, problem, tampered):
    recorded = judge(driver_record(child()), **change)
    assert recorded.history is None and recorded.problem.startswith(problem) and recorded.tampered is tampered


def altered(mutate) -> Any:
    record = driver_record(child())
    mutate(record)
    return judge(record)


def test_a_history_that_is_not_what_the_driver_records_is_refused_as_tampering():
    cases = {
        "dropped call": lambda r: r["operations"].pop(),
        "other arguments": lambda r: r["operations"][0].update(args=["zzz"]),
        "another seed": lambda r: r.update(seed=SEED + 1),
        "outside the window": lambda r: r["operations"][0].update(invoked=1),
        "window outside the process": lambda r: r.update(window=[1_500, CLOSED + 1]),
        "one thread for all": lambda r: [op.update(thread=7) for op in r["operations"]],
        "a thread of its own": lambda r: r["operations"].append({**r["operations"][-1], "index": 6, "client": 9}),
    }
    for name, mutate in cases.items():
        recorded = altered(mutate)
        assert recorded.history is None and recorded.tampered, name
        assert recorded.problem, name


def test_a_thread_may_stop_early_only_where_the_run_says_why():
    def stopped_by_an_exception(record: dict[str, Any]) -> None:
        record["operations"] = [op for op in record["operations"] if not (op["client"] == 1 and op["index"] > 3)]
        last = max((op for op in record["operations"] if op["client"] == 1), key=lambda op: op["index"])
        last.pop("value")
        last["raised"] = "SystemExit"

    assert altered(stopped_by_an_exception).problem == ""
    assert altered(lambda r: r.update(timed_out=True, operations=r["operations"][:2])).problem == ""


def test_code_from_outside_the_implementation_fails_the_recording():
    record = driver_record(child())
    recorded = assemble(
        "after", SEED, attempt(records_of(record)), (OPENED, CLOSED), lambda f: {**f, "expected": False}, child()
    )
    assert recorded.tampered and "code from outside the implementation" in recorded.problem


def test_a_driver_that_failed_says_where():
    record = {**driver_record(child()), "ok": False, "phase": "import", "error": "ModuleNotFoundError: shape"}
    recorded = judge(record)
    assert recorded.problem == "the recording failed during import: ModuleNotFoundError: shape"
    assert not recorded.tampered


def test_threads_that_never_started_their_calls_fail_the_recording_with_the_drivers_reason():
    record = driver_record(child())
    reason = "the 2 threads did not all start within 10 s"
    record.update(operations=[], start_failures=[reason] * 3)
    recorded = judge(record)
    assert recorded.history is None and not recorded.tampered
    assert recorded.problem == f"no thread could start its calls in 3 tries: {reason}"


def test_a_start_that_succeeded_on_a_later_try_is_an_ordinary_history():
    record = driver_record(child())
    record["start_failures"] = ["a thread raised RuntimeError before its first call: could not be scheduled"]
    recorded = judge(record)
    assert recorded.history is not None and recorded.problem == ""
