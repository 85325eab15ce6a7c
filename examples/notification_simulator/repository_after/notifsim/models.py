"""Users, messages and what became of each delivery."""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    id: int
    name: str
    email: str


@dataclass(frozen=True)
class Message:
    id: int
    subject: str
    body: str


class DeliveryStatus(enum.Enum):
    LOST = "lost"  # never reached the user
    DELIVERED = "delivered"  # reached the user, left unopened
    OPENED = "opened"  # reached the user and was opened


@dataclass(frozen=True)
class Delivery:
    user_id: int
    message_id: int
    status: DeliveryStatus
