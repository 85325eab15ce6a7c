"""FAIL_TO_PASS: the worker pool gives its locks back however a call ends, close() returns only once its
workers are gone, a fatal error is no failed job, and the read-modify-writes of the store and the statistics
hold when two threads meet inside them.

Races are made certain, not likely: the object built between the read and the write (a User, a Message, the
new MessageStats) is held until a second thread builds one too, or SETTLE seconds pass. Behind a lock the
second thread never gets there, so a correct implementation pays SETTLE once; without it both threads read
the same old state, every time.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

import notifsim.stats as stats
import notifsim.storage as storage
import pytest
from notifsim.events import DeliveryCompleted
from notifsim.models import Delivery, DeliveryStatus
from test_shared_faults import WAIT, returns_in_time

SETTLE = 0.5  # seconds the first thread in a window waits for a second one


class Rendezvous:
    """The first comer waits until a second one arrives (or SETTLE passes); from then on nobody waits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._arrived = 0
        self._open = False

    def arrive(self) -> None:
        with self._cond:
            if self._open:
                return
            self._arrived += 1
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._arrived >= 2, timeout=SETTLE)
            self._open = True


def held(make: Callable[..., Any], meeting: Rendezvous, when: Callable[..., bool] = lambda *a, **k: True):
    """`make`, but a call for which `when` holds waits at the rendezvous first."""

    def build(*args: Any, **kwargs: Any) -> Any:
        if when(*args, **kwargs):
            meeting.arrive()
        return make(*args, **kwargs)

    return build


def together(*calls: Callable[[], Any]) -> list[Any]:
    outcomes: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls), timeout=WAIT)

    def run(index: int, call: Callable[[], Any]) -> None:
        start.wait()
        outcomes[index] = call()

    threads = [threading.Thread(target=run, args=pair, daemon=True) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads), "a call did not return"
    return outcomes


def worker_pool(workers: int, maxsize: int, name: str) -> Any:
    """A WorkerPool (imported here: the original has no worker pool, and its tests must still be collected)."""
    return importlib.import_module("notifsim.dispatch").WorkerPool(workers, maxsize, name=name)


def pool_threads(name: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(name)]


# -- the worker pool --------------------------------------------------------------------------------


def test_the_high_water_mark_can_be_read_again_and_again():
    pool = worker_pool(2, 4, "hw-pool")
    try:
        assert returns_in_time(lambda: pool.high_water)[0]
        assert returns_in_time(lambda: pool.high_water)[0]
        assert returns_in_time(lambda: pool.submit(lambda: None))[0], "submit hung after high_water was read"
        assert returns_in_time(pool.join)[0]
    finally:
        returns_in_time(pool.close)


def test_a_submit_refused_by_a_closed_pool_leaves_it_closable():
    pool = worker_pool(1, 2, "closed-pool")
    assert returns_in_time(pool.close)[0]
    returned, error = returns_in_time(lambda: pool.submit(lambda: None))
    assert returned and isinstance(error, RuntimeError), error
    assert returns_in_time(pool.close)[0], "close() hung after a refused submit"


def test_close_waits_for_the_job_running_and_returns_once_the_workers_are_gone():
    pool = worker_pool(3, 4, "gone-pool")
    started, release, closed = threading.Event(), threading.Event(), threading.Event()

    def job() -> None:
        started.set()
        release.wait(WAIT)

    pool.submit(job)
    assert started.wait(WAIT)
    threading.Thread(target=lambda: (pool.close(), closed.set()), daemon=True).start()
    assert not closed.wait(SETTLE), "close() returned while a job was still running"
    release.set()
    assert closed.wait(WAIT), "close() did not return once the job was done"
    assert pool_threads("gone-pool") == [], "close() returned while its workers were still running"


def test_a_fatal_error_of_a_job_ends_its_worker_and_is_no_failed_job(monkeypatch: pytest.MonkeyPatch):
    """SystemExit gets through: it ends the worker thread that ran it (the thread's excepthook sees it), as
    it would end any thread, and join() does not report it as a failed job; the other worker goes on."""
    fatal_in_threads: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: fatal_in_threads.append(args.exc_value))
    pool = worker_pool(2, 4, "fatal-pool")
    done = threading.Event()

    def fatal() -> None:
        raise SystemExit("stop")

    pool.submit(fatal)
    pool.submit(done.set)
    returned, outcome = returns_in_time(pool.join)
    assert returned and not isinstance(outcome, BaseException), f"join() reported the fatal error: {outcome!r}"
    assert done.is_set()
    returns_in_time(pool.close)
    assert [type(error) for error in fatal_in_threads] == [SystemExit], "the fatal error did not end its worker"


# -- read-modify-writes, with both threads inside --------------------------------------------------------


def test_two_users_added_at_once_get_two_ids(monkeypatch: pytest.MonkeyPatch):
    store = storage.InMemoryStore()
    monkeypatch.setattr(storage, "User", held(storage.User, Rendezvous()))
    users = together(lambda: store.add_user("ada", "a@x"), lambda: store.add_user("bob", "b@x"))
    assert sorted(user.id for user in users) == [1, 2], f"two users added at once got ids {[u.id for u in users]}"
    assert len(store.users()) == 2


def test_two_messages_added_at_once_get_two_ids(monkeypatch: pytest.MonkeyPatch):
    store = storage.InMemoryStore()
    monkeypatch.setattr(storage, "Message", held(storage.Message, Rendezvous()))
    messages = together(lambda: store.add_message("a", "1"), lambda: store.add_message("b", "2"))
    assert sorted(message.id for message in messages) == [1, 2]
    assert len(store.messages()) == 2


def test_two_deliveries_of_one_message_counted_at_once_count_twice(monkeypatch: pytest.MonkeyPatch):
    collector = stats.StatisticsCollector()
    # Only the new counts are held, not the empty default the read starts from.
    monkeypatch.setattr(stats, "MessageStats", held(stats.MessageStats, Rendezvous(), lambda **counts: bool(counts)))
    event = DeliveryCompleted(Delivery(1, 7, DeliveryStatus.OPENED))
    together(lambda: collector.on_delivery_completed(event), lambda: collector.on_delivery_completed(event))
    counted = collector.snapshot(users=2, messages=1).per_message[7]
    assert (counted.sent, counted.opened) == (2, 2), f"two deliveries counted as {counted}"
