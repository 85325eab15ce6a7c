"""The history driver: real threads (and asyncio tasks) at once, each call timed; forced interleavings decide races."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from history_shapes import SHAPES, write_shape, write_spec

from concgrade.grade.linearizability import LINEARIZABLE, VIOLATION, Model, Operation, check, history_from_json, returns
from concgrade.inside.history_driver import record_tasks, record_threads
from concgrade.inside.history_replay import ReplayModel, replay_model

REPO = Path(__file__).resolve().parents[3]
WAIT = 30  # seconds a forced interleaving waits for its partner before it gives up (it never should)


def counter_step(state: int, op: Operation) -> tuple[int, Any]:
    return (state + 1, returns(state + 1)) if op.method == "incr" else (state, returns(state))


COUNTER = Model(lambda: 0, counter_step)


def as_history(records: list[dict[str, Any]]):
    return history_from_json({"format": 1, "operations": records})


class LostUpdateCounter:
    """Loses an update for certain: the two calls both read before either writes."""

    def __init__(self) -> None:
        self.value = 0
        self.both_read = threading.Barrier(2, timeout=WAIT)

    def incr(self) -> int:
        current = self.value
        self.both_read.wait()
        self.value = current + 1
        return self.value


class LockedCounter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def incr(self) -> int:
        with self._lock:
            self.value += 1
            return self.value

    def get(self) -> int:
        with self._lock:
            return self.value


def test_two_threads_really_run_at_once_and_the_lost_update_is_caught() -> None:
    records, timed_out, _ = record_threads(LostUpdateCounter(), [[("incr", [])], [("incr", [])]])
    assert not timed_out
    assert [r["value"] for r in records] == [1, 1]  # both inside incr at the same time: the barrier let them go
    verdict = check(as_history(records), COUNTER)
    assert verdict.status == VIOLATION
    assert "incr() answered 1 where the sequential model allows 2" in verdict.message()


def test_records_have_monotonic_bounds_in_invocation_order_and_thread_order_per_thread() -> None:
    plans = [[("incr", []), ("get", [])] * 20 for _ in range(3)]
    records, _, _ = record_threads(LockedCounter(), plans)
    assert len(records) == 120 and [r["index"] for r in records] == list(range(120))
    assert all(r["invoked"] <= r["responded"] for r in records)
    assert [r["invoked"] for r in records] == sorted(r["invoked"] for r in records)
    for client in range(3):
        mine = [r for r in records if r["client"] == client]
        assert [r["method"] for r in mine] == [m for m, _ in plans[client]]
        assert all(a["responded"] <= b["invoked"] for a, b in zip(mine, mine[1:], strict=False))


def test_a_locked_counter_is_never_flagged() -> None:
    for seed in range(5):
        plans = [[("incr", []) if (seed + i + client) % 3 else ("get", []) for i in range(60)] for client in range(4)]
        records, _, _ = record_threads(LockedCounter(), plans)
        assert check(as_history(records), COUNTER, budget_seconds=None).status == LINEARIZABLE


class CountingCache:
    """get-or-compute that computes twice for certain: both calls miss before either stores."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.computed = 0
        self.both_missed = threading.Barrier(2, timeout=WAIT)

    def get_or_compute(self, key: str) -> str:
        if key not in self.values:
            self.both_missed.wait()
            self.computed += 1
            self.values[key] = f"{key}#{self.computed}"
        return self.values[key]


class SequentialCache:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.computed = 0

    def get_or_compute(self, key: str) -> str:
        if key not in self.values:
            self.computed += 1
            self.values[key] = f"{key}#{self.computed}"
        return self.values[key]


def test_a_cache_that_computes_twice_is_caught_against_the_sequential_reference() -> None:
    records, _, _ = record_threads(CountingCache(), [[("get_or_compute", ["a"])], [("get_or_compute", ["a"])]])
    model = replay_model_of(SequentialCache)
    verdict = check(as_history(records), model)
    assert verdict.status == VIOLATION
    assert verdict.counterexample is not None and verdict.counterexample.allowed == ("'a#1'",)


class RepeatingIds:
    """Hands out the same id twice for certain: both calls read the next id before either moves it on."""

    def __init__(self) -> None:
        self.next = 1
        self.both_read = threading.Barrier(2, timeout=WAIT)

    def next_id(self) -> int:
        ident = self.next
        self.both_read.wait()
        self.next = ident + 1
        return ident


def test_repeated_ids_are_caught() -> None:
    records, _, _ = record_threads(RepeatingIds(), [[("next_id", [])], [("next_id", [])]])
    assert [r["value"] for r in records] == [1, 1]
    ids = Model(lambda: 1, lambda state, op: (state + 1, returns(state)))
    assert check(as_history(records), ids).status == VIOLATION


class AsyncLostUpdate:
    def __init__(self) -> None:
        self.value = 0

    async def incr(self) -> int:
        current = self.value
        await asyncio.sleep(0)  # the other task runs here and reads the same value
        self.value = current + 1
        return self.value


class AsyncLocked:
    def __init__(self) -> None:
        self.value = 0
        self.lock = asyncio.Lock()  # made inside the driver's loop (record_tasks calls the factory there)

    async def incr(self) -> int:
        async with self.lock:
            current = self.value
            await asyncio.sleep(0)
            self.value = current + 1
            return self.value

    def get(self) -> int:
        return self.value


def test_asyncio_tasks_interleave_at_awaits_and_the_lost_update_is_caught() -> None:
    records, timed_out = record_tasks(AsyncLostUpdate, [[("incr", [])], [("incr", [])]])
    assert not timed_out and [r["value"] for r in records] == [1, 1]
    assert check(as_history(records), COUNTER).status == VIOLATION


def test_an_asyncio_lock_makes_the_tasks_linearizable() -> None:
    plans = [[("incr", []), ("get", [])] * 10 for _ in range(3)]
    records, _ = record_tasks(AsyncLocked, plans)
    assert len(records) == 60
    assert check(as_history(records), COUNTER, budget_seconds=None).status == LINEARIZABLE


class Blocking:
    def __init__(self) -> None:
        self.release = threading.Event()

    def block(self) -> str:
        self.release.wait(WAIT)
        return "late"

    def quick(self) -> int:
        return 1


def test_a_call_still_running_when_time_runs_out_is_recorded_without_a_response() -> None:
    subject = Blocking()
    try:
        records, timed_out, _ = record_threads(subject, [[("block", [])], [("quick", [])]], timeout=0.2)
    finally:
        subject.release.set()  # the daemon thread ends now
    assert timed_out
    blocked = next(r for r in records if r["method"] == "block")
    assert blocked["responded"] is None and "value" not in blocked
    assert as_history(records).operations[0].pending or as_history(records).operations[1].pending


def test_exceptions_are_answers() -> None:
    class Strict:
        def pop(self) -> None:
            raise KeyError("empty")

    records, _, _ = record_threads(Strict(), [[("pop", [])], [("pop", [])]])
    assert {(r["raised"], r["message"]) for r in records} == {("KeyError", "'empty'")}


def replay_model_of(cls: type) -> ReplayModel:
    return ReplayModel(cls)


# The entry point, as a grade runs it: a fresh process, stress on, the implementation on PYTHONPATH.


def run_driver(spec: dict[str, Any], implementation: Path, tmp_path: Path) -> dict[str, Any]:
    spec_file, out = write_spec(tmp_path / "spec.json", spec), tmp_path / "out.json"
    env = {"PYTHONPATH": os.pathsep.join([str(implementation), str(REPO / "evaluation")]), "PATH": os.defpath}
    command = [sys.executable, "-m", "concgrade.inside.history_driver", str(spec_file), str(out)]
    subprocess.run(command, env=env, check=True, timeout=120, capture_output=True)
    return json.loads(out.read_text(encoding="utf-8"))


def test_the_entry_point_records_a_stressed_run_of_a_locked_shape(tmp_path: Path, monkeypatch: Any) -> None:
    shape = SHAPES["hit-counter"]
    implementation = write_shape(tmp_path / "locked", shape, "locked", module="driver_entry_locked")
    recorded = run_driver(shape.spec(seed=7, module="driver_entry_locked"), implementation, tmp_path)
    assert recorded["ok"] and recorded["format"] == 1 and recorded["seed"] == 7 and not recorded["timed_out"]
    assert len(recorded["operations"]) == shape.threads * shape.operations_per_thread
    assert recorded["stress"]["switch_interval"] == 1e-06 and recorded["stress"]["call_yields"] > 0
    assert recorded["imported"]["file"] == str((implementation / "driver_entry_locked.py").resolve())
    monkeypatch.syspath_prepend(str(implementation))
    model = replay_model(shape.spec(seed=7, module="driver_entry_locked"))
    history = history_from_json(recorded)
    assert check(history, model, budget_seconds=None).status == LINEARIZABLE


def test_the_entry_point_reports_what_went_wrong(tmp_path: Path) -> None:
    shape = SHAPES["hit-counter"]
    implementation = write_shape(tmp_path / "impl", shape, "locked", module="driver_entry_errors")
    missing = run_driver(shape.spec(seed=1, module="no_such_module"), implementation, tmp_path)
    assert not missing["ok"] and missing["phase"] == "import" and "ModuleNotFoundError" in missing["error"]
    typo = shape.spec(seed=1, module="driver_entry_errors", operations=[{"method": "incrr", "args": ["a"]}])
    recorded = run_driver(typo, implementation, tmp_path)
    assert not recorded["ok"] and "has no method 'incrr'" in recorded["error"]


class FlakyStartBarrier(threading.Barrier):
    """The driver's start barrier, where the first `failures` waits raise (a thread that could not start)."""

    failures = 1
    lock = threading.Lock()

    def wait(self, timeout=None):
        with FlakyStartBarrier.lock:
            fail = FlakyStartBarrier.failures > 0
            FlakyStartBarrier.failures -= fail
        if fail:
            raise RuntimeError("could not be scheduled")
        return super().wait(timeout)


def test_threads_that_could_not_all_start_are_tried_again_and_the_reason_kept(monkeypatch):
    from concgrade.inside import history_driver

    monkeypatch.setattr(FlakyStartBarrier, "failures", 1)
    monkeypatch.setattr(history_driver.threading, "Barrier", FlakyStartBarrier)
    plans = [[("incr", [])] * 20 for _ in range(3)]
    records, timed_out, failures = record_threads(LockedCounter(), plans)
    assert not timed_out and len(records) == 60  # the second try made every call, each once
    assert sorted(r["value"] for r in records) == list(range(1, 61))
    assert failures == ["a thread raised RuntimeError before its first call: could not be scheduled"]


def test_a_start_that_never_succeeds_makes_no_call_and_says_why(monkeypatch):
    from concgrade.inside import history_driver

    monkeypatch.setattr(FlakyStartBarrier, "failures", 10**6)
    monkeypatch.setattr(history_driver.threading, "Barrier", FlakyStartBarrier)
    counter = LockedCounter()
    records, timed_out, failures = record_threads(counter, [[("incr", [])] * 5 for _ in range(2)])
    assert records == [] and not timed_out and counter.value == 0
    assert len(failures) == history_driver.START_TRIES and "RuntimeError" in failures[-1]
