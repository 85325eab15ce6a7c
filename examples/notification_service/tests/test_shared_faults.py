"""PASS_TO_PASS: what the original already gets right and the refactor must keep: the outbox can be read again
and again, and a KeyboardInterrupt from the transport is no failed delivery (it reaches the caller)."""

from __future__ import annotations

import notif.service as service
import notif.transport as transport
import pytest
from conftest import RecordingTransport
from notif import channels
from test_locks_and_faults import event, returns_in_time


def test_the_outbox_can_be_read_again_and_again():
    outbox = transport.Outbox()
    assert returns_in_time(lambda: outbox.sent) == (True, [])
    assert returns_in_time(lambda: outbox.sent) == (True, [])
    notification = channels.EmailNotification("e1", "u@example.com", "hi")
    assert returns_in_time(lambda: outbox.send(notification))[0]
    assert returns_in_time(lambda: outbox.sent) == (True, [notification])


def test_a_fatal_error_of_the_transport_reaches_the_caller():
    """KeyboardInterrupt is not a failed delivery: process_once (in the caller's thread) lets it through."""

    class Interrupted(RecordingTransport):
        def send(self, notification) -> None:
            raise KeyboardInterrupt("stop")

    svc = service.NotificationService(Interrupted())
    svc.enqueue(event())
    with pytest.raises(KeyboardInterrupt):
        svc.process_once()


class FailsWhenHashedAgain(str):
    """An event id that can be hashed until `arm()` is called, and raises TypeError from then on."""

    armed = False

    def arm(self) -> None:
        self.armed = True

    def __hash__(self) -> int:
        if self.armed:
            raise TypeError("this event id can no longer be hashed")
        return str.__hash__(self)

    def __eq__(self, other: object) -> bool:
        return str.__eq__(self, other)


def test_a_failure_after_a_failed_send_leaves_the_service_working():
    """Whatever the service does with the id of an event whose send failed, a TypeError from it costs that
    event, not the service: its results can still be read."""
    event_id = FailsWhenHashedAgain("e1")

    class ArmsThenRefuses(RecordingTransport):
        def send(self, notification) -> None:
            event_id.arm()
            raise ConnectionRefusedError("mailbox does not exist")

    svc = service.NotificationService(ArmsThenRefuses())
    svc.enqueue(event(event_id=event_id))
    returns_in_time(svc.process_once)
    returned, results = returns_in_time(lambda: svc.results)
    assert returned, "the service stayed locked after the bookkeeping of a failed send raised"
    assert [result.ok for result in results] == [False]
