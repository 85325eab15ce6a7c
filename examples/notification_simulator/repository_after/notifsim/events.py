"""The events of a simulation and the bus that hands them to their subscribers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from .dispatch import WorkerPool
from .models import Delivery, Message, User


class Event:
    """Base class of everything published on the bus."""


@dataclass(frozen=True)
class MessageSent(Event):
    message: Message


@dataclass(frozen=True)
class DeliveryRequested(Event):
    user: User
    message: Message


@dataclass(frozen=True)
class DeliveryCompleted(Event):
    delivery: Delivery


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]


class EventBus:
    """Hands each event to the subscribers of its type.

    A subscriber runs in the publisher's thread, or, if subscribed with `background=True`, on the bus's
    worker pool: the event is queued and `publish` returns (or waits while the queue is full).
    """

    def __init__(self, pool: WorkerPool | None = None) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._handlers: dict[type[Event], list[tuple[Handler, bool]]] = {}

    def subscribe(self, event_type: type[E], handler: Callable[[E], None], *, background: bool = False) -> None:
        if background and self._pool is None:
            raise ValueError("background subscribers need a bus with a worker pool")
        with self._lock:
            self._handlers.setdefault(event_type, []).append((handler, background))

    def publish(self, event: Event) -> None:
        with self._lock:
            handlers = list(self._handlers.get(type(event), []))
        for handler, background in handlers:
            if background:
                assert self._pool is not None  # checked by subscribe()
                self._pool.submit(partial(handler, event))
            else:
                handler(event)
