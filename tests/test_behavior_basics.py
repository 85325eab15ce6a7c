"""PASS_TO_PASS: the contract of notify_users that the original and the refactor share.

Small inputs and fakes that return at once, so the sequential original passes in milliseconds.
The implementation under test is whichever `notify_service` is first on PYTHONPATH. Besides the
results themselves: messages are str(e) whatever the exception, duplicate users are separate items,
the service works in a child made by os.fork, importing it starts no thread, a call that failed to
set its workers up does not wedge the next one, and nothing sleeps when there is nothing to wait for.
"""

from __future__ import annotations

import importlib.util
import json
import os
import select
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import notify_service
import pytest

DEADLINE = 5.0  # seconds a test waits for a call that should return at once before it calls it hung


class Rejected(Exception):
    """An ordinary application error a send may raise."""


class Fatal(BaseException):
    """A fatal error that is neither an Exception nor one of Python's own."""


class RecordingSend:
    """A fake send_notification: records each call and answers `receipt(user_id, payload)` at once.

    Tests count only the calls that carry their own payload: a concurrent implementation may
    still be finishing sends of an earlier test whose batch a fatal error cut short.
    """

    def __init__(self, fail: dict[Any, BaseException] | None = None) -> None:
        self.fail = fail or {}
        self.calls: list[tuple[Any, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, user_id: Any, payload: Any) -> str:
        with self._lock:
            self.calls.append((user_id, payload))
        if user_id in self.fail:
            raise self.fail[user_id]
        return receipt(user_id, payload)

    def users_sent(self, payload: Any) -> list[Any]:
        """The user ids of the calls made with this very payload object, in call order."""
        with self._lock:
            return [user_id for user_id, seen in self.calls if seen is payload]


def receipt(user_id: Any, payload: Any) -> str:
    return f"fake receipt {user_id}/{payload}"


@pytest.fixture
def fake_send(monkeypatch: pytest.MonkeyPatch):
    """Install a RecordingSend as notify_service.send_notification; call it with the failures to raise."""

    def install(fail: dict[Any, BaseException] | None = None) -> RecordingSend:
        send = RecordingSend(fail)
        monkeypatch.setattr(notify_service, "send_notification", send)
        return send

    return install


def test_results_follow_input_order(fake_send) -> None:
    send = fake_send()
    users = [17, 3, 42, 3, 8, 0, 99, 5]  # unsorted, with a repeated id
    payload = "in order"

    results = notify_service.notify_users(users, payload)

    assert type(results) is list
    assert results == [receipt(user, payload) for user in users]
    assert Counter(send.users_sent(payload)) == Counter(users), "every user is sent exactly once"


def test_payload_reaches_every_send_unchanged(fake_send) -> None:
    send = fake_send()
    payload = {"title": "maintenance", "at": "02:00"}

    notify_service.notify_users([1, 2, 3], payload)

    assert sorted(send.users_sent(payload)) == [1, 2, 3], "each send gets the caller's payload object itself"


def test_empty_input_returns_empty_list_without_sending(fake_send) -> None:
    send = fake_send()

    payload = "nobody"

    results = notify_service.notify_users([], payload)

    assert results == [] and type(results) is list
    assert send.users_sent(payload) == []


@pytest.mark.parametrize(
    "make_users", [tuple, iter, lambda ids: (user for user in ids)], ids=["tuple", "iterator", "generator"]
)
def test_accepts_any_iterable_of_users(fake_send, make_users) -> None:
    fake_send()
    users = [4, 1, 3]

    results = notify_service.notify_users(make_users(users), "hi")

    assert results == [receipt(user, "hi") for user in users]


class Coded(Exception):
    """An error whose message is not its first argument."""

    def __str__(self) -> str:
        return f"code {self.args[0]}: {self.args[1]}"


def test_ordinary_errors_become_their_message_at_their_index(fake_send) -> None:
    fail = {
        2: ValueError("user 2 has no address"),
        5: Rejected("quota exceeded for user 5"),
        6: RuntimeError(""),  # an empty message stays an empty string
        7: KeyError("user 7"),  # str() quotes it: "'user 7'"
        8: Coded(451, "unavailable"),  # str() is the class's own
        9: Rejected("two", "arguments"),  # str() of the tuple
        10: Rejected(),  # no argument at all: the message is ""
    }
    send = fake_send(fail)
    users = list(range(12))

    payload = "with errors"

    results = notify_service.notify_users(users, payload)

    expected = [str(fail[user]) if user in fail else receipt(user, payload) for user in users]
    assert results == expected
    assert sorted(send.users_sent(payload)) == users, "the batch goes on after an ordinary error"


def test_repeated_users_are_separate_items_with_their_own_outcomes(monkeypatch: pytest.MonkeyPatch) -> None:
    """User 5 is in the batch three times and only its second send fails: one slot gets the error."""
    calls: Counter[Any] = Counter()
    lock = threading.Lock()

    def send(user_id: Any, payload: Any) -> str:
        with lock:
            calls[user_id] += 1
            number = calls[user_id]
        if user_id == 5 and number == 2:
            raise Rejected("the second send to user 5 bounced")
        return receipt(user_id, payload)

    monkeypatch.setattr(notify_service, "send_notification", send)
    results = notify_service.notify_users([5, 9, 5, 5], "dup")

    assert results[1] == receipt(9, "dup")
    fives = [results[index] for index in (0, 2, 3)]
    assert Counter(fives) == Counter([receipt(5, "dup"), receipt(5, "dup"), "the second send to user 5 bounced"])


@pytest.mark.parametrize("fatal_type", [KeyboardInterrupt, SystemExit, Fatal])
def test_fatal_errors_propagate(fake_send, fatal_type: type[BaseException]) -> None:
    fake_send({3: fatal_type("stop at user 3")})

    with pytest.raises(fatal_type) as raised:
        notify_service.notify_users(range(6), "hi")

    assert str(raised.value) == "stop at user 3"


def test_send_notification_is_looked_up_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = RecordingSend(), RecordingSend({2: ValueError("second fake rejects 2")})

    monkeypatch.setattr(notify_service, "send_notification", first)
    assert notify_service.notify_users([1, 2], "a") == [receipt(1, "a"), receipt(2, "a")]

    monkeypatch.setattr(notify_service, "send_notification", second)
    assert notify_service.notify_users([1, 2], "b") == [receipt(1, "b"), "second fake rejects 2"]
    assert sorted(first.users_sent("a")) == [1, 2] and sorted(second.users_sent("b")) == [1, 2]


def test_real_send_notification_contract() -> None:
    """The module's own send: a receipt string, and a ValueError for an invalid id (about 60 ms)."""
    with pytest.raises(ValueError) as invalid:
        notify_service.send_notification(-1, "hi")

    results = notify_service.notify_users([7, -1, 8], "hi")

    assert results == [
        notify_service.send_notification(7, "hi"),
        str(invalid.value),
        notify_service.send_notification(8, "hi"),
    ]
    assert all(isinstance(result, str) for result in results)


def fresh_service() -> ModuleType:
    """A new copy of notify_service from its own file, as a process that has not used it yet sees it."""
    spec = importlib.util.spec_from_file_location("notify_service_fresh", notify_service.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def returns_in_time(call: Callable[[], Any]) -> tuple[bool, Any]:
    """Run `call` on a daemon thread: (True, its result) if it returns within DEADLINE, else (False, None)."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # the outcome under test
            outcome["result"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="returns-in-time", daemon=True).start()
    return done.wait(DEADLINE), outcome.get("result")


def test_importing_the_service_starts_no_thread() -> None:
    """Threads made at import would not survive os.fork, and run before anyone asked for them."""
    before = set(threading.enumerate())
    fresh_service()
    started = [thread.name for thread in set(threading.enumerate()) - before]
    assert started == [], f"importing notify_service started threads: {started}"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_the_service_works_in_a_child_made_by_fork(fake_send) -> None:
    """A process that used the service forks; the child uses it too (the parent's threads are not there)."""
    fake_send()
    assert notify_service.notify_users([1, 2, 3], "parent") == [receipt(user, "parent") for user in (1, 2, 3)]
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, then leave at once (no pytest teardown here)
        status = 1
        try:
            os.close(read_end)
            os.write(write_end, json.dumps(notify_service.notify_users([4, 5, 6], "child")).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], DEADLINE)
        answer = os.read(read_end, 1 << 16) if ready else b""
    finally:
        os.close(read_end)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert ready, f"notify_users in the forked child did not return within {DEADLINE:g} s"
    assert json.loads(answer) == [receipt(user, "child") for user in (4, 5, 6)]


def test_a_call_that_could_not_set_up_its_workers_does_not_wedge_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    """Making a thread pool fails once, as it does when a process runs out of threads: that first call may
    fail with the error, and the next call works (whatever was taken before the error is given back)."""
    service = fresh_service()
    monkeypatch.setattr(service, "send_notification", RecordingSend())
    failures = [RuntimeError("can't start new thread")]
    real_init = ThreadPoolExecutor.__init__

    def init_that_fails_once(pool: ThreadPoolExecutor, *args: Any, **kwargs: Any) -> None:
        if failures:
            raise failures.pop()
        real_init(pool, *args, **kwargs)

    monkeypatch.setattr(ThreadPoolExecutor, "__init__", init_that_fails_once)
    returned, first = returns_in_time(lambda: service.notify_users([1, 2], "first"))
    assert returned, "the first call hung"
    if isinstance(first, BaseException):
        assert isinstance(first, RuntimeError) and "can't start new thread" in str(first), repr(first)
    else:
        assert first == [receipt(1, "first"), receipt(2, "first")]
    returned, second = returns_in_time(lambda: service.notify_users([3, 4], "second"))
    assert returned, "after a call failed to set up its workers, the next call hung (a lock not given back?)"
    assert second == [receipt(3, "second"), receipt(4, "second")]


def test_nothing_sleeps_when_sends_and_lookups_return_at_once(fake_send, monkeypatch: pytest.MonkeyPatch) -> None:
    """The refactor exists for its speed: with the I/O faked away, no thread of the call may sleep."""
    fake_send()
    workers: set[int] = set()
    sleeps: list[tuple[int, float]] = []
    lock = threading.Lock()
    real_sleep = time.sleep

    def lookup(user_id: Any) -> dict[str, Any]:
        with lock:
            workers.add(threading.get_ident())
        return {"id": user_id}

    def spy(seconds: float) -> None:
        with lock:
            sleeps.append((threading.get_ident(), seconds))
        real_sleep(seconds)

    monkeypatch.setattr(notify_service, "lookup_user", lookup)
    monkeypatch.setattr(time, "sleep", spy)
    for name, value in list(vars(notify_service).items()):  # `from time import sleep` binds a second name
        if value is real_sleep:
            monkeypatch.setattr(notify_service, name, spy)
    results = notify_service.notify_users(range(20), "quick")

    assert results == [receipt(user, "quick") for user in range(20)]
    with lock:
        slept = [seconds for ident, seconds in sleeps if seconds > 0 and ident in workers | {threading.get_ident()}]
    assert slept == [], f"the call slept {len(slept)} times ({sum(slept):.2f} s) with nothing to wait for"
