"""Where rendered notifications go: the transport interface and an in-memory outbox."""

from __future__ import annotations

from typing import Protocol

from .channels import Notification


class TransientDeliveryError(Exception):
    """The transport failed in a way that may succeed if tried again later."""


class Transport(Protocol):
    def send(self, notification: Notification) -> None:
        """Hand one notification over; raise on failure."""


class Outbox:
    """A transport that keeps what it was given, for tests and local runs."""

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.sent.append(notification)
