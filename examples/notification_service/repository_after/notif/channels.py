"""The kinds of notification the service can send, and the registry that maps channel names to them."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar, TypeVar

from .models import Event

SMS_MAX_LENGTH = 160


class Notification(ABC):
    """A message ready for a transport, built from an event.

    A new channel is a subclass that sets `channel` and implements `render()`, passed to `register_channel`.
    """

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


class UnknownChannelError(LookupError):
    """No notification class is registered under an event's channel name."""


N = TypeVar("N", bound=type[Notification])


class ChannelRegistry:
    """Channel name -> Notification subclass. Safe to use from several threads."""

    def __init__(self, classes: Iterable[type[Notification]] = ()) -> None:
        self._lock = threading.Lock()
        self._classes: dict[str, type[Notification]] = {}
        for cls in classes:
            self.register(cls)

    def register(self, cls: N, *, replace: bool = False) -> N:
        """Make `cls` handle events of channel `cls.channel`; returns `cls` so it works as a decorator."""
        if not (isinstance(cls, type) and issubclass(cls, Notification)):
            raise TypeError(f"{cls!r} is not a Notification subclass")
        name = getattr(cls, "channel", None)
        if not isinstance(name, str) or not name:
            raise ValueError(f"{cls.__name__} must set a non-empty `channel` class attribute")
        with self._lock:
            current = self._classes.get(name)
            if current is not None and current is not cls and not replace:
                raise ValueError(f"channel {name!r} is already handled by {current.__name__}")
            self._classes[name] = cls
        return cls

    def unregister(self, name: str) -> None:
        with self._lock:
            self._classes.pop(name, None)

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._classes)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._classes

    def build(self, event: Event) -> Notification:
        """The notification for `event`, made by the class registered for its channel."""
        with self._lock:
            cls = self._classes.get(event.channel)
        if cls is None:
            raise UnknownChannelError(event.channel)
        return cls.from_event(event)


default_registry = ChannelRegistry([EmailNotification, SmsNotification])


def register_channel(cls: N, *, replace: bool = False) -> N:
    """Register `cls` in the default registry, which every service uses unless given another one."""
    return default_registry.register(cls, replace=replace)
