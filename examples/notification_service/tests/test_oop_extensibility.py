"""FAIL_TO_PASS, requirement 5: a new channel is a Notification subclass plus one registration call."""

from __future__ import annotations

import inspect

import pytest
from notif import channels, service
from notif.channels import EmailNotification, Notification
from notif.models import Event


class PushNotification(Notification):
    channel = "push"

    def render(self) -> str:
        return f"[{self.recipient}] {self.body}"


def push_event(n: int) -> Event:
    return Event(f"p{n}", f"u{n}", "push", f"device-{n}", f"ping {n}")


def test_a_registered_channel_is_sent_by_an_unchanged_service(outbox):
    channels.register_channel(PushNotification)
    try:
        svc = service.NotificationService(outbox)
        svc.enqueue(push_event(1))
        [result] = svc.process_all()
    finally:
        channels.default_registry.unregister("push")
    assert result.ok
    [notification] = outbox.sent
    assert isinstance(notification, PushNotification)
    assert notification.render() == "[device-1] ping 1"


def test_register_channel_works_as_a_class_decorator(outbox):
    try:

        @channels.register_channel
        class PagerNotification(Notification):
            channel = "pager"

            def render(self) -> str:
                return self.body.upper()

        svc = service.NotificationService(outbox)
        svc.enqueue(Event("g1", "u1", "pager", "pager-7", "wake up"))
        svc.process_all()
    finally:
        channels.default_registry.unregister("pager")
    assert [n.render() for n in outbox.sent] == ["WAKE UP"]
    assert "pager" not in channels.default_registry


def test_service_names_no_concrete_channel():
    source = inspect.getsource(service)
    for concrete in ("EmailNotification", "SmsNotification", '"email"', '"sms"'):
        assert concrete not in source, f"service.py still knows about {concrete}"


def test_a_service_can_have_its_own_registry(outbox):
    registry = channels.ChannelRegistry([EmailNotification, PushNotification])
    svc = service.NotificationService(outbox, registry=registry)
    svc.enqueue(push_event(1))
    svc.enqueue(Event("s1", "u1", "sms", "+44700", "hi"))
    assert [r.reason for r in svc.process_all()] == [None, "unknown_channel"]
    assert "push" not in channels.default_registry


def test_default_registry_knows_email_and_sms():
    assert {"email", "sms"} <= set(channels.default_registry.names())


def test_registry_refuses_what_is_not_a_channel():
    registry = channels.ChannelRegistry()

    class Nameless(Notification):
        def render(self) -> str:
            return ""

    with pytest.raises(TypeError):
        registry.register(object)
    with pytest.raises(ValueError):
        registry.register(Nameless)


def test_a_taken_channel_name_is_only_replaced_on_request():
    class OtherEmail(EmailNotification):
        pass

    registry = channels.ChannelRegistry([EmailNotification])
    with pytest.raises(ValueError):
        registry.register(OtherEmail)
    registry.register(OtherEmail, replace=True)
    built = registry.build(Event("e1", "u1", "email", "a@example.com", "hi"))
    assert type(built) is OtherEmail
