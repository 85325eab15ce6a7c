"""The kinds of notification the service can send, one class per channel."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from .models import Event

SMS_MAX_LENGTH = 160


class Notification(ABC):
    """A message ready for a transport, built from an event."""

    channel: ClassVar[str]

    def __init__(self, event_id: str, recipient: str, body: str, subject: str = "") -> None:
        self.event_id = event_id
        self.recipient = recipient
        self.body = body
        self.subject = subject

    @classmethod
    def from_event(cls, event: Event) -> Notification:
        return cls(event.id, event.recipient, event.body, event.subject)

    @abstractmethod
    def render(self) -> str:
        """The text the transport puts on the wire."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(event_id={self.event_id!r}, recipient={self.recipient!r})"


class EmailNotification(Notification):
    channel = "email"

    def render(self) -> str:
        return f"To: {self.recipient}\nSubject: {self.subject}\n\n{self.body}"


class SmsNotification(Notification):
    channel = "sms"

    def render(self) -> str:
        # Carriers split longer texts into several billed messages; one is enough for us.
        return self.body[:SMS_MAX_LENGTH]
