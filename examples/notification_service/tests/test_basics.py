"""PASS_TO_PASS: what the service does on both implementations, driven in the caller's thread."""

from __future__ import annotations

from notif.channels import SMS_MAX_LENGTH, EmailNotification, SmsNotification
from notif.models import DeliveryResult, Event
from notif.queueing import EventQueue
from notif.service import NotificationService
from notif.transport import Outbox


def email(n: int, user: str | None = None) -> Event:
    # One user per event by default, so no rate limit can interfere with what these tests look at.
    return Event(f"e{n}", user or f"u{n}", "email", f"user{n}@example.com", f"body {n}", f"subject {n}")


def sms(n: int, body: str = "hello") -> Event:
    return Event(f"s{n}", f"u{n}", "sms", f"+4470000000{n}", body)


def test_email_event_is_sent_as_rendered_email(outbox):
    svc = NotificationService(outbox)
    svc.enqueue(email(1))
    result = svc.process_once()
    assert result == DeliveryResult(ok=True, reason=None, event_id="e1", attempts=1)
    [notification] = outbox.sent
    assert isinstance(notification, EmailNotification)
    assert notification.render() == "To: user1@example.com\nSubject: subject 1\n\nbody 1"


def test_sms_body_is_cut_to_one_message(outbox):
    svc = NotificationService(outbox)
    svc.enqueue(sms(1, body="x" * 400))
    assert svc.process_once().ok
    [notification] = outbox.sent
    assert isinstance(notification, SmsNotification)
    assert notification.render() == "x" * SMS_MAX_LENGTH


def test_events_are_sent_in_the_order_they_were_queued(outbox):
    svc = NotificationService(outbox)
    events = [email(1), sms(2), email(3), sms(4), email(5)]
    for event in events:
        svc.enqueue(event)
    results = svc.process_all()
    assert [r.event_id for r in results] == [e.id for e in events]
    assert outbox.sent_ids() == [e.id for e in events]
    assert all(r.ok for r in results)


def test_process_once_on_an_empty_queue_returns_none(outbox):
    svc = NotificationService(outbox)
    assert svc.process_once() is None
    assert svc.process_all() == []
    assert outbox.sent == []


def test_unknown_channel_is_reported_and_not_sent(outbox):
    svc = NotificationService(outbox)
    svc.enqueue(Event("f1", "u1", "fax", "+1555", "hi"))
    result = svc.process_once()
    assert (result.ok, result.reason, result.event_id) == (False, "unknown_channel", "f1")
    assert outbox.calls == []


def test_permanent_failure_is_reported_once_and_the_next_event_still_goes(outbox):
    outbox.fail_permanently.add("e1")
    svc = NotificationService(outbox)
    svc.enqueue(email(1))
    svc.enqueue(email(2))
    first, second = svc.process_all()
    assert (first.ok, first.reason, first.attempts) == (False, "failed", 1)
    assert second.ok
    assert outbox.calls == ["e1", "e2"]
    assert outbox.sent_ids() == ["e2"]


def test_pending_counts_queued_events(outbox):
    svc = NotificationService(outbox)
    assert svc.pending() == 0
    svc.enqueue(email(1))
    svc.enqueue(sms(2))
    assert svc.pending() == 2
    svc.process_once()
    assert svc.pending() == 1


def test_results_accumulate_across_calls(outbox):
    svc = NotificationService(outbox)
    svc.enqueue(email(1))
    svc.process_all()
    svc.enqueue(email(2))
    svc.process_all()
    assert [r.event_id for r in svc.results] == ["e1", "e2"]


def test_distinct_events_with_the_same_content_are_both_sent(outbox):
    svc = NotificationService(outbox)
    svc.enqueue(Event("a", "u1", "email", "u1@example.com", "same"))
    svc.enqueue(Event("b", "u1", "email", "u1@example.com", "same"))
    assert [r.ok for r in svc.process_all()] == [True, True]
    assert outbox.sent_ids() == ["a", "b"]


def test_default_transport_is_an_in_memory_outbox():
    svc = NotificationService()
    svc.enqueue(email(7))
    svc.process_all()
    assert isinstance(svc.transport, Outbox)
    assert [n.event_id for n in svc.transport.sent] == ["e7"]


def test_event_queue_is_first_in_first_out():
    queue = EventQueue()
    assert queue.get() is None
    queue.put(email(1))
    queue.put(email(2))
    assert len(queue) == 2
    assert [queue.get().id, queue.get().id] == ["e1", "e2"]
    assert queue.get() is None
