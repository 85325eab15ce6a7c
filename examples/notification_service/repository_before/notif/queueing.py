"""The queue of events waiting to be sent."""

from __future__ import annotations

from .models import Event


class EventQueue:
    """First in, first out, in a plain list."""

    def __init__(self) -> None:
        self._items: list[Event] = []

    def put(self, event: Event) -> None:
        self._items.append(event)

    def get(self) -> Event | None:
        """The oldest event, or None when there is none."""
        if not self._items:
            return None
        return self._items.pop(0)

    def __len__(self) -> int:
        return len(self._items)
