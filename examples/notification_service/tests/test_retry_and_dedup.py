"""FAIL_TO_PASS, requirement 4: dedup by Event.id, and retries of transient failures after 1 s, 2 s, 4 s.

Time is a FakeClock whose sleep() only records and advances: no test here waits for a backoff.
"""

from __future__ import annotations

import threading

from notif import retry, service
from notif.models import Event


def event(n: int) -> Event:
    return Event(f"e{n}", f"u{n}", "email", f"user{n}@example.com", f"body {n}")


def test_transient_failures_are_retried_after_backoff(outbox, clock):
    outbox.transient["e1"] = 2
    svc = service.NotificationService(outbox, clock=clock, sleep=clock.sleep)
    svc.enqueue(event(1))
    [result] = svc.process_all()
    assert (result.ok, result.attempts) == (True, 3)
    assert clock.sleeps == [1.0, 2.0]
    assert outbox.sent_ids() == ["e1"]


def test_gives_up_after_three_retries(outbox, clock):
    outbox.transient["e1"] = 100
    svc = service.NotificationService(outbox, clock=clock, sleep=clock.sleep)
    svc.enqueue(event(1))
    [result] = svc.process_all()
    assert (result.ok, result.reason, result.attempts) == (False, "retries_exhausted", 4)
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert outbox.calls == ["e1"] * 4
    assert outbox.sent == []


def test_permanent_failures_are_not_retried(outbox, clock):
    outbox.fail_permanently.add("e1")
    svc = service.NotificationService(outbox, clock=clock, sleep=clock.sleep)
    svc.enqueue(event(1))
    [result] = svc.process_all()
    assert (result.ok, result.reason, result.attempts) == (False, "failed", 1)
    assert clock.sleeps == []


def test_retry_policy_backoff_schedule():
    policy = retry.RetryPolicy()
    assert policy.delays() == [1.0, 2.0, 4.0]
    assert [policy.next_delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, None]
    assert policy.max_attempts == 4


def test_same_event_twice_is_sent_once(outbox):
    svc = service.NotificationService(outbox)
    svc.enqueue(event(1))
    svc.enqueue(event(1))
    results = svc.process_all()
    assert [(r.ok, r.reason) for r in results] == [(True, None), (False, "duplicate")]
    assert outbox.sent_ids() == ["e1"]


def test_copies_racing_on_two_workers_are_sent_once(gate):
    # The first copy is held inside the transport. The other worker must settle the second copy as a
    # duplicate without sending it, or it would block too and the marker behind it would never go out.
    gate.blocking = {"e1"}
    svc = service.NotificationService(gate, workers=2)
    svc.start()
    svc.enqueue(event(1))
    svc.enqueue(event(1))
    svc.enqueue(event(2))
    assert gate.wait_in_flight(1)
    marker_done = _wait_for(lambda: "e2" in gate.sent_ids())
    gate.gate.set()
    svc.stop()
    assert marker_done, "the second worker never got past the duplicate"
    assert sorted(gate.sent_ids()) == ["e1", "e2"]
    assert sorted(r.reason or "sent" for r in svc.results if r.event_id == "e1") == ["duplicate", "sent"]


def test_an_event_that_failed_may_be_sent_by_a_later_copy(outbox):
    outbox.fail_permanently.add("e1")
    svc = service.NotificationService(outbox)
    svc.enqueue(event(1))
    svc.process_all()
    outbox.fail_permanently.clear()
    svc.enqueue(event(1))
    svc.enqueue(event(1))
    assert [r.reason for r in svc.process_all()] == [None, "duplicate"]
    assert outbox.sent_ids() == ["e1"]


def test_workers_retry_with_the_injected_sleep(outbox, clock):
    for n in range(6):
        outbox.transient[f"e{n}"] = 1
    svc = service.NotificationService(outbox, workers=3, clock=clock, sleep=clock.sleep)
    with svc:
        for n in range(6):
            svc.enqueue(event(n))
    assert sorted(outbox.sent_ids()) == [f"e{n}" for n in range(6)]
    assert [r.attempts for r in svc.results] == [2] * 6
    assert clock.sleeps == [1.0] * 6


def _wait_for(condition, timeout: float = 5.0) -> bool:
    """Poll `condition` every millisecond; True as soon as it holds, False after `timeout`."""
    never = threading.Event()
    for _ in range(int(timeout * 1000)):
        if condition():
            return True
        never.wait(0.001)
    return condition()
