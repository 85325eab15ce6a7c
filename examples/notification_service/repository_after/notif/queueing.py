"""The bounded, thread-safe queue of events waiting to be sent."""

from __future__ import annotations

import threading
from collections import deque

from .models import Event


class QueueFullError(Exception):
    """The queue already holds its maximum number of events; the caller must back off."""


class QueueClosedError(RuntimeError):
    """The queue no longer accepts events because its consumers are shutting down."""


class EventQueue:
    """First in, first out, at most `maxsize` events; `put` refuses rather than blocks when full.

    Refusing keeps the producer (usually a request handler) responsive and lets it decide what to do with
    the overflow; every refusal is counted in `rejected`.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._items: deque[Event] = deque()
        self._changed = threading.Condition()
        self._closed = False
        self._rejected = 0

    def put(self, event: Event) -> None:
        with self._changed:
            if self._closed:
                raise QueueClosedError("the queue is closed")
            if len(self._items) >= self.maxsize:
                self._rejected += 1
                raise QueueFullError(f"queue is full ({self.maxsize} events)")
            self._items.append(event)
            self._changed.notify()

    def get(self) -> Event | None:
        """The oldest event, or None at once when there is none."""
        with self._changed:
            return self._items.popleft() if self._items else None

    def take(self, timeout: float | None = None) -> Event | None:
        """The oldest event, waiting for one while the queue is open; None once closed and empty."""
        with self._changed:
            self._changed.wait_for(lambda: self._items or self._closed, timeout)
            return self._items.popleft() if self._items else None

    def close(self) -> None:
        """Refuse new events; consumers still get the ones already queued."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def closed(self) -> bool:
        with self._changed:
            return self._closed

    @property
    def rejected(self) -> int:
        """How many events `put` refused because the queue was full."""
        with self._changed:
            return self._rejected

    def __len__(self) -> int:
        with self._changed:
            return len(self._items)
