"""The simulator: wires storage, the event bus, delivery and statistics together."""

from __future__ import annotations

import time
from types import TracebackType

from .delivery import DeliveryService, Sleep
from .events import DeliveryCompleted, DeliveryRequested, EventBus, MessageSent
from .models import Message, User
from .stats import Statistics, StatisticsCollector
from .storage import InMemoryStore


class Simulator:
    """Runs a campaign: every message sent goes to every user, one delivery after the other."""

    def __init__(
        self,
        *,
        seed: int = 0,
        loss_ratio: float = 0.1,
        open_ratio: float = 0.3,
        latency: float = 0.001,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.store = InMemoryStore()
        self.bus = EventBus()
        self.collector = StatisticsCollector()
        self.delivery = DeliveryService(
            self.store,
            self.bus,
            seed=seed,
            loss_ratio=loss_ratio,
            open_ratio=open_ratio,
            latency=latency,
            sleep=sleep,
        )
        self.bus.subscribe(MessageSent, self.delivery.on_message_sent)
        self.bus.subscribe(DeliveryRequested, self.delivery.on_delivery_requested)
        self.bus.subscribe(DeliveryCompleted, self.collector.on_delivery_completed)

    def create_users(self, count: int) -> list[User]:
        start = len(self.store.users()) + 1
        return [
            self.store.add_user(f"user-{n:04d}", f"user-{n:04d}@example.com")
            for n in range(start, start + count)
        ]

    def create_message(self, subject: str, body: str) -> Message:
        return self.store.add_message(subject, body)

    def send(self, message: Message) -> None:
        """Deliver `message` to every user; returns when all deliveries are done."""
        self.bus.publish(MessageSent(message))

    def statistics(self) -> Statistics:
        return self.collector.snapshot(users=len(self.store.users()), messages=len(self.store.messages()))

    def close(self) -> None:
        """Nothing to release: everything ran in the caller's thread."""

    def __enter__(self) -> Simulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
