"""The data that flows through the service: incoming events and delivery results."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """Something happened to a user that they should hear about on one channel."""

    id: str
    user_id: str
    channel: str
    recipient: str
    body: str
    subject: str = ""


@dataclass(frozen=True)
class DeliveryResult:
    """What became of one event: sent (`ok`), or not and why (`reason`)."""

    ok: bool
    reason: str | None = None
    event_id: str | None = None
    attempts: int = 0
