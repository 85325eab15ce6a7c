"""Counting outcomes as deliveries complete, and the statistics they add up to."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .events import DeliveryCompleted
from .models import DeliveryStatus


@dataclass(frozen=True)
class MessageStats:
    """Outcomes of one message; `delivered` counts every delivery that arrived, opened or not."""

    sent: int = 0
    lost: int = 0
    delivered: int = 0
    opened: int = 0


@dataclass(frozen=True)
class Statistics:
    users: int
    messages: int
    deliveries: int
    lost: int
    delivered: int
    opened: int
    per_message: dict[int, MessageStats] = field(default_factory=dict)

    @property
    def loss_rate(self) -> float:
        return self.lost / self.deliveries if self.deliveries else 0.0

    @property
    def open_rate(self) -> float:
        """Share of arrived deliveries that were opened."""
        return self.opened / self.delivered if self.delivered else 0.0

    def summary(self) -> str:
        lines = [
            f"users: {self.users}",
            f"messages: {self.messages}",
            f"deliveries: {self.deliveries}",
            f"lost: {self.lost} ({self.loss_rate:.2%})",
            f"delivered: {self.delivered}",
            f"opened: {self.opened} ({self.open_rate:.2%} of delivered)",
        ]
        for message_id, stats in sorted(self.per_message.items()):
            lines.append(
                f"  message {message_id}: sent {stats.sent}, lost {stats.lost}, "
                f"delivered {stats.delivered}, opened {stats.opened}"
            )
        return "\n".join(lines)


class StatisticsCollector:
    """Subscriber of DeliveryCompleted that keeps running counts per message; called from many threads."""

    def __init__(self) -> None:
        # The read-modify-write below would lose counts if two workers interleaved inside it.
        self._lock = threading.Lock()
        self._per_message: dict[int, MessageStats] = {}

    def on_delivery_completed(self, event: DeliveryCompleted) -> None:
        delivery = event.delivery
        arrived = delivery.status is not DeliveryStatus.LOST
        with self._lock:
            old = self._per_message.get(delivery.message_id, MessageStats())
            self._per_message[delivery.message_id] = MessageStats(
                sent=old.sent + 1,
                lost=old.lost + (not arrived),
                delivered=old.delivered + arrived,
                opened=old.opened + (delivery.status is DeliveryStatus.OPENED),
            )

    def snapshot(self, users: int, messages: int) -> Statistics:
        with self._lock:
            per_message = dict(self._per_message)
        return Statistics(
            users=users,
            messages=messages,
            deliveries=sum(s.sent for s in per_message.values()),
            lost=sum(s.lost for s in per_message.values()),
            delivered=sum(s.delivered for s in per_message.values()),
            opened=sum(s.opened for s in per_message.values()),
            per_message=per_message,
        )
