"""Where rendered notifications go: the transport interface and an in-memory outbox."""

from __future__ import annotations

import threading
from typing import Protocol

from .channels import Notification


class TransientDeliveryError(Exception):
    """The transport failed in a way that may succeed if tried again later."""


class Transport(Protocol):
    def send(self, notification: Notification) -> None:
        """Hand one notification over; raise on failure. Called from several worker threads at once."""


class Outbox:
    """A transport that keeps what it was given, for tests and local runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        with self._lock:
            self._sent.append(notification)

    @property
    def sent(self) -> list[Notification]:
        """A snapshot of what was sent so far, oldest first."""
        with self._lock:
            return list(self._sent)
