"""FAIL_TO_PASS: every lock is given back however its critical section ends, and every check-then-act holds
when two threads meet inside it.

Faults are injected through the public API (an unhashable key, a clock that fails, a second start(), a
transport that raises KeyboardInterrupt). Races are made certain, not likely: a key whose second hash (the store that follows a look) waits
until a second thread gets to the same point, or SETTLE seconds pass. Behind
a lock the second thread never gets there, so a correct implementation pays SETTLE once; without the lock both
threads are inside the check at once, every time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import notif.channels as channels
import notif.queueing as queueing
import notif.rate_limit as rate_limit
import notif.service as service
import pytest
from conftest import WAIT, RecordingTransport
from notif.models import Event

SETTLE = 0.5  # seconds the first thread in a window waits for a second one


class Rendezvous:
    """The first comer waits until a second one arrives (or SETTLE passes); from then on nobody waits."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._arrived = 0
        self._open = False
        self.met = False  # two threads were inside at once

    def arrive(self) -> None:
        with self._cond:
            if self._open:
                return
            self._arrived += 1
            self._cond.notify_all()
            self.met = self._cond.wait_for(lambda: self._arrived >= 2, timeout=SETTLE)
            self._open = True


class HeldKey(str):
    """A str whose second hashing waits at a rendezvous. A check-then-act on a dict or set hashes the key twice,
    once to look (`in`, `get`) and once to store: holding the store keeps the first thread's act from landing
    before the second thread has looked."""

    rendezvous: Rendezvous
    hashes: int

    def __new__(cls, value: str, rendezvous: Rendezvous) -> HeldKey:
        key = super().__new__(cls, value)
        key.rendezvous = rendezvous
        key.hashes = 0
        return key

    def __hash__(self) -> int:
        self.hashes += 1
        if self.hashes == 2:
            self.rendezvous.arrive()
        return str.__hash__(self)

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other)


def returns_in_time(call: Callable[[], Any]) -> tuple[bool, Any]:
    """Run `call` on a daemon thread: (True, its result or exception) within WAIT seconds, else (False, None)."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # the outcome under test
            outcome["value"] = exc
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(WAIT), outcome.get("value")


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Start every call on its own thread at once; their results (or exceptions), once all returned."""
    outcomes: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls), timeout=WAIT)

    def run(index: int, call: Callable[[], Any]) -> None:
        start.wait()
        try:
            outcomes[index] = call()
        except Exception as exc:  # the outcome under test
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=pair, daemon=True) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(thread.is_alive() for thread in threads), "a call did not return"
    return outcomes


def event(event_id: str = "e1", channel: Any = "email", user: str = "u1") -> Event:
    return Event(event_id, user, channel, f"{user}@example.com", "hello")


# -- locks given back --------------------------------------------------------------------------------


def test_the_queue_can_be_asked_again_and_again():
    queue = queueing.EventQueue(5)
    for _ in range(2):
        assert returns_in_time(lambda: queue.closed) == (True, False)
        assert returns_in_time(lambda: queue.rejected) == (True, 0)
        assert returns_in_time(lambda: len(queue)) == (True, 0)
    assert returns_in_time(lambda: queue.put(event()))[0], "put hung after the queue was inspected"


def test_a_bad_timeout_leaves_the_queue_working():
    queue = queueing.EventQueue(5)
    # In this thread, not a helper's: the queue's condition is reentrant, and a new thread may get the
    # identity of a finished one, which would then seem to own a lock it left held.
    with pytest.raises(TypeError):
        queue.take(timeout="soon")  # an empty, open queue reads its timeout
    assert returns_in_time(lambda: queue.put(event()))[0], "the queue stayed locked after take() raised"


@pytest.mark.parametrize(
    "misuse",
    [
        lambda registry: [] in registry,
        lambda registry: registry.unregister([]),
        lambda registry: registry.build(event(channel=[])),
    ],
    ids=["contains", "unregister", "build"],
)
def test_an_unhashable_channel_name_leaves_the_registry_working(misuse):
    registry = channels.ChannelRegistry([channels.EmailNotification])
    returned, error = returns_in_time(lambda: misuse(registry))
    assert returned and isinstance(error, TypeError), error
    returned, names = returns_in_time(registry.names)
    assert returned and names == ["email"], "the registry stayed locked after a lookup raised"


def test_a_clock_that_fails_once_leaves_the_rate_limiter_working():
    readings = iter([OSError("clock unavailable")])

    def clock() -> float:
        failure = next(readings, None)
        if failure is not None:
            raise failure
        return 1000.0

    limiter = rate_limit.RateLimiter(capacity=2, period=60.0, clock=clock)
    returned, error = returns_in_time(lambda: limiter.allow("u1", "email"))
    assert returned and isinstance(error, OSError), error
    assert returns_in_time(lambda: limiter.allow("u1", "email")) == (True, True), "the limiter stayed locked"


def test_a_second_start_is_refused_and_the_service_still_stops():
    svc = service.NotificationService(RecordingTransport(), workers=1)
    svc.start()
    returned, error = returns_in_time(svc.start)
    assert returned and isinstance(error, RuntimeError), error
    assert returns_in_time(svc.stop)[0], "stop() hung after a second start() was refused"


# -- check-then-act, with both threads inside ----------------------------------------------------------


def test_two_classes_registered_at_once_for_one_channel_one_is_refused():
    registry = channels.ChannelRegistry()
    meeting = Rendezvous()

    class PushA(channels.Notification):
        channel = HeldKey("push", meeting)

        def render(self) -> str:
            return self.body

    class PushB(channels.Notification):
        channel = HeldKey("push", meeting)

        def render(self) -> str:
            return self.body

    outcomes = together(lambda: registry.register(PushA), lambda: registry.register(PushB))
    refused = [outcome for outcome in outcomes if isinstance(outcome, ValueError)]
    assert len(refused) == 1, f"both registrations of channel 'push' went through: {outcomes}"


def test_two_first_sends_of_a_user_at_once_share_one_bucket():
    """capacity 1: of two first allow() calls at the same moment, exactly one gets the token."""
    meeting = Rendezvous()
    limiter = rate_limit.RateLimiter(capacity=1, period=60.0, clock=lambda: 1000.0)
    outcomes = together(
        lambda: limiter.allow(HeldKey("u1", meeting), "email"), lambda: limiter.allow(HeldKey("u1", meeting), "email")
    )
    assert sorted(outcomes) == [False, True], f"two first sends both got a token: {outcomes}"


def test_two_workers_with_copies_of_one_event_send_it_once():
    meeting = Rendezvous()
    outbox = RecordingTransport()
    svc = service.NotificationService(outbox, workers=2)
    shared_id = HeldKey("e1", meeting)
    svc.enqueue(event(event_id=shared_id))
    svc.enqueue(event(event_id=HeldKey("e1", meeting)))
    svc.start()
    assert returns_in_time(svc.stop)[0], "stop() hung"
    assert outbox.sent_ids() == ["e1"], f"the event was sent {len(outbox.sent_ids())} times"
    assert sorted(result.reason or "sent" for result in svc.results) == ["duplicate", "sent"]


class Incomparable(str):
    """A channel name that cannot be ordered against another: sorting it raises TypeError."""

    def __lt__(self, other: object) -> bool:
        raise TypeError("channel names of this kind cannot be ordered")

    __gt__ = __le__ = __ge__ = __lt__
    __hash__ = str.__hash__


def test_names_that_cannot_be_sorted_leave_the_registry_working():
    class Push(channels.Notification):
        channel = Incomparable("push")

        def render(self) -> str:
            return self.body

    registry = channels.ChannelRegistry([channels.EmailNotification, Push])
    returned, error = returns_in_time(registry.names)
    assert returned and isinstance(error, TypeError), error
    assert returns_in_time(lambda: "email" in registry) == (True, True), "the registry stayed locked"
