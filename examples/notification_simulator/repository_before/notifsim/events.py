"""The events of a simulation and the bus that hands them to their subscribers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

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


class EventBus:
    """Calls every subscriber of an event's type, in subscription order, in the publisher's thread."""

    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Callable[[Any], None]]] = {}

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        self._handlers.setdefault(event_type, []).append(handler)

    def publish(self, event: Event) -> None:
        for handler in self._handlers.get(type(event), []):
            handler(event)
