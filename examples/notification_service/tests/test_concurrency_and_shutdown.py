"""FAIL_TO_PASS, requirement 1: a configurable pool of worker threads and a stop() that loses nothing.

Concurrency is proved with barriers and gates, never with timing: a correct pool passes however slow the
machine is, and a missing one fails (a barrier that breaks, a send that never happens).
"""

from __future__ import annotations

import threading

import pytest
from notif import service
from notif.models import Event

WAIT = 5.0  # generous: only a broken implementation ever waits this long


def event(n: int, channel: str = "email") -> Event:
    return Event(f"e{n}", f"u{n}", channel, f"user{n}@example.com", f"body {n}")


class BarrierTransport:
    """Every send waits until `parties` sends are inside at once; fewer parallel workers break the barrier."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=WAIT)
        self._lock = threading.Lock()
        self.sent: list[str] = []

    def send(self, notification) -> None:
        self.barrier.wait()
        with self._lock:
            self.sent.append(notification.event_id)


@pytest.mark.parametrize("workers", [2, 4])
def test_configured_workers_send_at_the_same_time(workers):
    transport = BarrierTransport(parties=workers)
    svc = service.NotificationService(transport, workers=workers)
    svc.start()
    for n in range(workers):
        svc.enqueue(event(n))
    svc.stop()
    assert [r.reason for r in svc.results] == [None] * workers
    assert sorted(transport.sent) == sorted(f"e{n}" for n in range(workers))


def test_no_more_sends_in_flight_than_workers(gate):
    svc = service.NotificationService(gate, workers=3)
    svc.start()
    for n in range(7):
        svc.enqueue(event(n))
    assert gate.wait_in_flight(3)
    # All three workers are held inside the transport, so nobody else may take from the queue.
    assert svc.pending() == 4
    gate.gate.set()
    svc.stop()
    assert gate.max_in_flight == 3
    assert sorted(gate.sent_ids()) == sorted(f"e{n}" for n in range(7))


def test_stop_waits_for_the_send_in_flight(gate):
    svc = service.NotificationService(gate, workers=1)
    svc.start()
    svc.enqueue(event(1))
    assert gate.wait_in_flight(1)
    sent_when_stop_returned: list[list[str]] = []

    def stop() -> None:
        svc.stop()
        sent_when_stop_returned.append(gate.sent_ids())

    stopper = threading.Thread(target=stop)
    stopper.start()
    # A stop() that does not wait returns within this short grace; a correct one is still blocked.
    stopper.join(0.05)
    gate.gate.set()
    stopper.join(WAIT)
    assert not stopper.is_alive()
    assert sent_when_stop_returned == [["e1"]]


def test_stop_drains_everything_queued_before_it(gate):
    svc = service.NotificationService(gate, workers=2, max_queue_size=100)
    svc.start()
    for n in range(30):
        svc.enqueue(event(n, "email" if n % 2 else "sms"))
    assert gate.wait_in_flight(2)
    stopper = threading.Thread(target=svc.stop)
    stopper.start()
    gate.gate.set()
    stopper.join(WAIT)
    assert not stopper.is_alive()
    assert sorted(gate.sent_ids()) == sorted(f"e{n}" for n in range(30))
    assert len(svc.results) == 30
    assert svc.pending() == 0


def test_events_queued_before_start_are_sent(outbox):
    svc = service.NotificationService(outbox, workers=2)
    for n in range(5):
        svc.enqueue(event(n))
    svc.start()
    svc.stop()
    assert sorted(outbox.sent_ids()) == [f"e{n}" for n in range(5)]


def test_stop_without_start_still_sends_everything(outbox):
    svc = service.NotificationService(outbox)
    for n in range(3):
        svc.enqueue(event(n))
    svc.stop()
    assert outbox.sent_ids() == ["e0", "e1", "e2"]


def test_enqueue_after_stop_is_refused_and_stop_is_idempotent(outbox):
    svc = service.NotificationService(outbox, workers=2)
    svc.start()
    svc.stop()
    with pytest.raises(RuntimeError):
        svc.enqueue(event(1))
    svc.stop()
    assert outbox.sent_ids() == []


def test_concurrent_producers_lose_nothing(outbox):
    producers, per_producer = 4, 50
    svc = service.NotificationService(outbox, workers=3, max_queue_size=producers * per_producer)
    svc.start()
    go = threading.Barrier(producers, timeout=WAIT)

    def produce(p: int) -> None:
        go.wait()
        for n in range(per_producer):
            svc.enqueue(event(p * 1000 + n))

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    svc.stop()
    expected = sorted(f"e{p * 1000 + n}" for p in range(producers) for n in range(per_producer))
    assert sorted(outbox.sent_ids()) == expected
    assert len(svc.results) == len(expected)
    assert all(r.ok for r in svc.results)


def test_a_failing_send_does_not_stop_the_worker(outbox):
    outbox.fail_permanently.add("e0")
    svc = service.NotificationService(outbox, workers=1)
    with svc:
        for n in range(3):
            svc.enqueue(event(n))
    assert outbox.sent_ids() == ["e1", "e2"]
    assert sorted((r.event_id, r.reason) for r in svc.results) == [
        ("e0", "failed"),
        ("e1", None),
        ("e2", None),
    ]
