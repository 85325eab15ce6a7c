"""Delivering a message to a user: wait out the network latency, then draw lost / delivered / opened."""

from __future__ import annotations

import random
from collections.abc import Callable

from .events import DeliveryCompleted, DeliveryRequested, EventBus, MessageSent
from .models import Delivery, DeliveryStatus
from .storage import InMemoryStore

Sleep = Callable[[float], None]


def check_ratio(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")
    return value


def delivery_outcome(seed: int, user_id: int, message_id: int, loss_ratio: float, open_ratio: float) -> DeliveryStatus:
    """The fate of one delivery, decided by its own random stream.

    Seeding from (seed, user, message) rather than sharing one generator makes each outcome independent of
    the order in which deliveries happen to run. String seeds are hashed with SHA-512 by `random`, so the
    stream is the same in every process and on every platform.
    """
    rng = random.Random(f"{seed}:{user_id}:{message_id}")
    if rng.random() < loss_ratio:
        return DeliveryStatus.LOST
    if rng.random() < open_ratio:
        return DeliveryStatus.OPENED
    return DeliveryStatus.DELIVERED


class DeliveryService:
    """Turns a sent message into one delivery per user, and each delivery into an outcome."""

    def __init__(
        self,
        store: InMemoryStore,
        bus: EventBus,
        *,
        seed: int,
        loss_ratio: float,
        open_ratio: float,
        latency: float,
        sleep: Sleep,
    ) -> None:
        self._store = store
        self._bus = bus
        self._seed = seed
        self._loss_ratio = check_ratio("loss_ratio", loss_ratio)
        self._open_ratio = check_ratio("open_ratio", open_ratio)
        self._latency = latency
        self._sleep = sleep

    def on_message_sent(self, event: MessageSent) -> None:
        for user in self._store.users():
            self._bus.publish(DeliveryRequested(user, event.message))

    def on_delivery_requested(self, event: DeliveryRequested) -> None:
        self._sleep(self._latency)  # the network round trip
        status = delivery_outcome(self._seed, event.user.id, event.message.id, self._loss_ratio, self._open_ratio)
        delivery = Delivery(event.user.id, event.message.id, status)
        self._store.add_delivery(delivery)
        self._bus.publish(DeliveryCompleted(delivery))
