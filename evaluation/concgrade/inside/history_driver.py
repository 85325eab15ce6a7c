"""Records a history: declared operations from N threads (or asyncio tasks) at once on the implementation under test.

    python -m concgrade.inside.history_driver SPEC.json OUT.json

In a grade the boot runs it instead (protocol.PROGRAMS: the same sandbox and trusted start as a pytest
process), and the history goes to the harness as signed records on the records channel, not to a file.
Each call's invocation and response are read from CLOCK_MONOTONIC (time.monotonic_ns) right around
it, so its linearization point lies between them. The calls are drawn from the seed before any
thread starts, the threads wait at one barrier, and stress mode (tiny switch interval, seeded yields
at locks) is switched on before the code under test is imported. Like bench_child, it shares a
process with that code: standard library only, clocks bound first, one write of its record to a
file it opened before anything ran, then os._exit (threads left behind cannot keep it alive).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from concgrade.inside import protocol
from concgrade.inside.bench_child import module_proof
from concgrade.inside.call_yields import CallYields, source_folders
from concgrade.inside.history_spec import (
    Call,
    exception_name,
    exception_text,
    load_hook,
    plain,
    plan_calls,
    resolve_target,
)
from concgrade.inside.records import RecordStream
from concgrade.inside.stress import Stress

_monotonic_ns = time.monotonic_ns  # bound now: code under test replacing time.monotonic_ns cannot reach it
_sleep = time.sleep  # the real one, before stress wraps it
_os_write, _os_exit = os.write, os._exit
# Bound before the code under test is imported: replacing threading.Thread (say, with a class that runs its
# target at once, serializing the calls) does not reach the driver. Each call records its thread's identity,
# so the harness sees N threads, not one.
_Thread, _get_ident = threading.Thread, threading.get_ident

HISTORY_FORMAT = 1
DEFAULT_TIMEOUT = 60.0  # seconds for all the calls; the ones still running then are recorded without a response
# Seconds a thread waits for the others to start; START_TRIES of them fit in the recording's grace (history_runs.py).
BARRIER_TIMEOUT = 10.0
START_TRIES = 3  # tries at starting every thread's calls together (none is made unless all threads started)
CHUNK = 500  # operations per record on the records channel (a 10,000-call history is 20 lines, not one huge one)

Record = dict[str, Any]


def record_threads(
    subject: Any, plans: list[list[Call]], timeout: float = DEFAULT_TIMEOUT
) -> tuple[list[Record], bool, list[str]]:
    """Run each plan in its own thread, all released by one barrier: (every call's record, whether time ran out,
    why each earlier try could not start its calls).

    A try whose threads could not all start (one slow to be scheduled on a loaded machine, one that raised while
    waiting) made no call, so the same subject is tried again, up to START_TRIES times; the reasons are kept.
    """
    failures: list[str] = []
    for _ in range(START_TRIES):
        records, timed_out, failed = _record_threads_once(subject, plans, timeout)
        if not failed:
            break
        failures.append(failed)
    return records, timed_out, failures


def _record_threads_once(subject: Any, plans: list[list[Call]], timeout: float) -> tuple[list[Record], bool, str]:
    records: list[list[Record]] = [[] for _ in plans]
    gate = _StartGate(len(plans))
    threads = [
        _Thread(target=_run_plan, args=(subject, client, plan, gate, records[client]), daemon=True)
        for client, plan in enumerate(plans)
    ]
    for thread in threads:
        thread.start()
    deadline = _monotonic_ns() + int(timeout * 1e9)
    for thread in threads:
        thread.join(max(0.0, (deadline - _monotonic_ns()) / 1e9))
    timed_out = any(thread.is_alive() for thread in threads)
    return _flatten(records), timed_out, gate.why


class _StartGate:
    """Releases every thread at once, and lets none start its calls before all are running.

    A barrier alone is not enough: it wakes its waiters one by one, about 100 µs apart, and 50 quick
    calls take less than that, so each thread would finish before the next began. Past the barrier,
    each thread gives up the interpreter until the last one is past it too.
    """

    def __init__(self, parties: int) -> None:
        self._barrier = threading.Barrier(parties, timeout=BARRIER_TIMEOUT)
        self._past: list[int] = []
        self._parties = parties
        self._raised = ""  # a thread that raised while waiting (the barrier is aborted for the others)
        self._broken = ""  # the barrier broke: its timeout, or the abort

    @property
    def why(self) -> str:
        """ "" once the calls started; else why none did (a thread's exception first: it broke the barrier)."""
        return self._raised or self._broken

    def wait(self) -> bool:
        try:
            self._barrier.wait()
        except threading.BrokenBarrierError:
            self._broken = f"the {self._parties} threads did not all start within {BARRIER_TIMEOUT:g} s"
            return False
        except BaseException as exc:  # the others must not wait for this one until their timeout
            self._raised = f"a thread raised {exception_name(exc)} before its first call: {exception_text(exc)}"
            self._barrier.abort()
            return False
        self._past.append(1)  # list.append is atomic
        deadline = _monotonic_ns() + int(BARRIER_TIMEOUT * 1e9)
        while len(self._past) < self._parties and _monotonic_ns() < deadline:
            _sleep(0)
        return True


def _run_plan(subject: Any, client: int, plan: list[Call], gate: _StartGate, records: list[Record]) -> None:
    if not gate.wait():
        return  # nothing of any thread ran: the gate says why
    ident = _get_ident()
    for method, args in plan:
        function = getattr(subject, method) if method else subject
        record: Record = {"client": client, "method": method, "args": args, "invoked": 0, "responded": None}
        record["thread"] = ident
        records.append(record)
        record["invoked"] = _monotonic_ns()
        try:
            answer: Record = {"value": plain(function(*args))}  # made plain before the response: a snapshot
        except BaseException as exc:  # the call's failure is its answer, whatever it is
            answer = {"raised": exception_name(exc), "message": exception_text(exc)}
            if not isinstance(exc, Exception):
                _respond(record, answer)
                return  # SystemExit, KeyboardInterrupt: this thread stops as it would have
        _respond(record, answer)


def _respond(record: Record, answer: Record) -> None:
    responded = _monotonic_ns()
    record.update(answer)
    record["responded"] = responded  # set last: a record read early is still without a response


def record_tasks(
    make_subject: Callable[[], Any], plans: list[list[Call]], timeout: float = DEFAULT_TIMEOUT
) -> tuple[list[Record], bool]:
    """The asyncio variant: each plan in its own task of one new event loop, all released at once.

    The subject is made inside that loop (asyncio primitives bind to the loop that first uses them).
    """
    return asyncio.run(_record_tasks(make_subject, plans, timeout))


async def _record_tasks(
    make_subject: Callable[[], Any], plans: list[list[Call]], timeout: float
) -> tuple[list[Record], bool]:
    subject = make_subject()
    check_methods(subject, plans)
    records: list[list[Record]] = [[] for _ in plans]
    released = asyncio.Event()
    arrived = [0]
    tasks = [
        asyncio.create_task(_run_plan_async(subject, client, plan, released, arrived, len(plans), records[client]))
        for client, plan in enumerate(plans)
    ]
    _done, running = await asyncio.wait(tasks, timeout=timeout)
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running, timeout=1.0)
    return _flatten(records), bool(running)


async def _run_plan_async(
    subject: Any,
    client: int,
    plan: list[Call],
    released: asyncio.Event,
    arrived: list[int],
    tasks: int,
    records: list[Record],
) -> None:
    arrived[0] += 1
    if arrived[0] == tasks:
        released.set()
    await released.wait()
    for method, args in plan:
        function = getattr(subject, method) if method else subject
        record: Record = {"client": client, "method": method, "args": args, "invoked": 0, "responded": None}
        records.append(record)
        record["invoked"] = _monotonic_ns()
        try:
            result = function(*args)
            if inspect.isawaitable(result):
                result = await result
            answer: Record = {"value": plain(result)}
        except asyncio.CancelledError:
            raise  # cancelled by the driver's timeout: the call stays without a response
        except BaseException as exc:
            answer = {"raised": exception_name(exc), "message": exception_text(exc)}
            if not isinstance(exc, Exception):
                _respond(record, answer)
                return
        _respond(record, answer)


def _flatten(records: list[list[Record]]) -> list[Record]:
    """Every thread's records in invocation order, numbered; a record without a response loses any answer."""
    merged = sorted((record for thread in records for record in thread), key=lambda r: (r["invoked"], r["client"]))
    flat = []
    for index, record in enumerate(merged):
        kept: tuple[str, ...] = ("client", "method", "args", "invoked", "responded", "thread")
        item: Record = {key: record[key] for key in kept if key in record}
        if record["responded"] is not None:
            item.update({key: record[key] for key in ("value", "raised", "message") if key in record})
        flat.append({"index": index, **item})
    return flat


def make_subject(spec: Mapping[str, Any]) -> Any:
    """The object under test (the target called with the constructor's arguments), or the function itself."""
    target = resolve_target(spec["target"])
    if not spec.get("object", True):
        return target
    constructor = spec.get("constructor") or {}
    return target(*constructor.get("args", []), **constructor.get("kwargs", {}))


def drive(spec: Mapping[str, Any], record: dict[str, Any]) -> None:
    """Everything a run does, in order; `record` says how far it got (it is the output, also on failure)."""
    record["phase"] = "plan"
    threads, tasks = record_threads, record_tasks  # bound before the code under test can replace them
    hook = load_hook(spec["operations_hook"], spec.get("hook_paths", [])) if spec.get("operations_hook") else None
    plans = plan_calls(spec, hook)
    stress = None
    if spec.get("stress"):
        stress = Stress(int(spec["seed"]))
        stress.activate()  # before the import: locks the module creates at import time yield too
    record["phase"] = "import"
    target = resolve_target(spec["target"])
    record["imported"] = module_proof(target)
    yields = None
    if stress and not spec.get("asyncio") and spec.get("call_yields", True):  # false: the benchmark's comparison
        module = sys.modules.get(getattr(target, "__module__", "") or "")
        folders = spec.get("yield_folders") or source_folders(getattr(module, "__file__", None))
        yields = CallYields(int(spec["seed"]), folders)
        yields.install()  # for the threads started from now on: the driver's, and any the code under test starts
    record["phase"] = "run"
    timeout = float(spec.get("timeout_seconds") or DEFAULT_TIMEOUT)
    started = _monotonic_ns()
    if spec.get("asyncio"):
        operations, timed_out = tasks(lambda: make_subject(spec), plans, timeout)
    else:
        subject = make_subject(spec)
        check_methods(subject, plans)
        operations, timed_out, start_failures = threads(subject, plans, timeout)
        if start_failures:
            record["start_failures"] = start_failures
    record.update(
        ok=True,
        phase="done",
        operations=operations,
        timed_out=timed_out,
        window=[started, _monotonic_ns()],
        stress={**stress.figures(), **(yields.figures() if yields else {})} if stress else None,
    )


def check_methods(subject: Any, plans: list[list[Call]]) -> None:
    """Refuse to run a method the subject does not have: the model would raise the same AttributeError, and pass."""
    for method in sorted({method for plan in plans for method, _ in plan}):
        if method and not callable(getattr(subject, method, None)):
            raise AttributeError(f"{type(subject).__qualname__} has no method {method!r}")
        if not method and not callable(subject):
            raise TypeError(f"{subject!r} is not callable: operations without a method call the target itself")


def header(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "format": HISTORY_FORMAT,
        "name": spec.get("name"),
        "target": spec.get("target"),
        "seed": spec.get("seed"),
        "threads": spec.get("threads"),
        "asyncio": bool(spec.get("asyncio")),
        "clock": "monotonic_ns",
        "ok": False,
        "phase": "start",
        "operations": [],
    }


def run(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The whole recorded run as one JSON-ready record (a failure is the run's result, whatever it is)."""
    record = header(spec)
    try:
        drive(spec, record)
    except BaseException as exc:
        frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
        record.update(ok=False, error=f"{type(exc).__name__}: {exc}", traceback="".join(frames[-6:]))
    record["pid"] = os.getpid()
    try:
        json.dumps(record, default=str)
    except (TypeError, ValueError) as exc:
        record = {**header(spec), "error": f"could not encode the history: {exc}"}
    return record


def send(record: dict[str, Any], stream: RecordStream) -> None:
    """The record as signed records: its operations in chunks, then the rest, which says how many there were."""
    operations = record.pop("operations", [])
    for first in range(0, len(operations), CHUNK):
        stream.write(protocol.history_calls(first, operations[first : first + CHUNK]))
    stream.write(protocol.history(record, len(operations)))


def main(argv: list[str], stream: RecordStream | None = None) -> None:
    """SPEC.json OUT.json: the history to a file; SPEC.json with a stream (from the boot): to the records channel."""
    fd = os.open(argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if stream is None else None
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    record = run(spec)
    try:
        if stream is not None:
            send(record, stream)
        elif fd is not None:
            data = json.dumps(record, default=str).encode("utf-8", "replace")
            while data:
                data = data[_os_write(fd, data) :]
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        _os_exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
