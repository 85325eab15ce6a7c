"""FAIL_TO_PASS, requirement 2: a bounded queue that refuses events when full and counts the refusals."""

from __future__ import annotations

import threading

import pytest
from notif import queueing, service
from notif.models import Event

WAIT = 5.0


def event(n: int) -> Event:
    return Event(f"e{n}", f"u{n}", "email", f"user{n}@example.com", f"body {n}")


def test_enqueue_raises_queue_full_at_the_bound(outbox):
    svc = service.NotificationService(outbox, max_queue_size=3)
    for n in range(3):
        svc.enqueue(event(n))
    with pytest.raises(queueing.QueueFullError):
        svc.enqueue(event(3))
    with pytest.raises(queueing.QueueFullError):
        svc.enqueue(event(4))
    assert svc.pending() == 3
    assert svc.rejected_count == 2


def test_refused_events_are_never_sent_and_room_frees_up(outbox):
    svc = service.NotificationService(outbox, max_queue_size=2)
    svc.enqueue(event(0))
    svc.enqueue(event(1))
    with pytest.raises(queueing.QueueFullError):
        svc.enqueue(event(2))
    svc.process_all()
    svc.enqueue(event(3))
    svc.process_all()
    assert outbox.sent_ids() == ["e0", "e1", "e3"]
    assert svc.rejected_count == 1


def test_bound_holds_under_concurrent_producers(outbox):
    producers, per_producer, bound = 8, 10, 25
    svc = service.NotificationService(outbox, max_queue_size=bound)
    go = threading.Barrier(producers, timeout=WAIT)
    accepted, refused = [], []
    lock = threading.Lock()

    def produce(p: int) -> None:
        go.wait()
        for n in range(per_producer):
            try:
                svc.enqueue(event(p * 100 + n))
            except queueing.QueueFullError:
                with lock:
                    refused.append(1)
            else:
                with lock:
                    accepted.append(1)

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(accepted) == bound
    assert len(refused) == producers * per_producer - bound
    assert svc.rejected_count == len(refused)
    assert svc.pending() == bound


def test_bound_applies_while_workers_are_busy(gate):
    svc = service.NotificationService(gate, workers=2, max_queue_size=3)
    svc.start()
    svc.enqueue(event(0))
    svc.enqueue(event(1))
    assert gate.wait_in_flight(2)
    for n in range(2, 5):
        svc.enqueue(event(n))
    with pytest.raises(queueing.QueueFullError):
        svc.enqueue(event(5))
    gate.gate.set()
    svc.stop()
    assert sorted(gate.sent_ids()) == [f"e{n}" for n in range(5)]
    assert svc.rejected_count == 1


def test_event_queue_counts_its_own_rejections():
    queue = queueing.EventQueue(maxsize=2)
    queue.put(event(0))
    queue.put(event(1))
    with pytest.raises(queueing.QueueFullError):
        queue.put(event(2))
    assert (len(queue), queue.rejected) == (2, 1)


def test_queue_size_must_be_positive():
    with pytest.raises(ValueError):
        service.NotificationService(max_queue_size=0)
