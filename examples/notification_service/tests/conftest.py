"""Test doubles shared by the suites: a fake clock and transports that record, fail or block on cue.

Nothing here changes how tests are collected or reported.
"""

from __future__ import annotations

import threading

import pytest
from notif.transport import TransientDeliveryError

# Generous on purpose: a correct implementation never waits this long, a broken one fails instead of hanging.
WAIT = 5.0


class FakeClock:
    """Time that moves only when told to; `sleep` records the wait and advances time instead of blocking."""

    def __init__(self, start: float = 1000.0) -> None:
        self._lock = threading.Lock()
        self._now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds


class RecordingTransport:
    """Keeps every notification it is given; can fail chosen events, permanently or a number of times."""

    def __init__(self, fail_permanently: set[str] | None = None, transient: dict[str, int] | None = None):
        self._lock = threading.Lock()
        self.sent: list = []
        self.calls: list[str] = []
        self.fail_permanently = set(fail_permanently or ())
        self.transient = dict(transient or {})

    def send(self, notification) -> None:
        with self._lock:
            self.calls.append(notification.event_id)
            if notification.event_id in self.fail_permanently:
                raise ConnectionRefusedError("mailbox does not exist")
            left = self.transient.get(notification.event_id, 0)
            if left:
                self.transient[notification.event_id] = left - 1
                raise TransientDeliveryError("gateway busy")
            self.sent.append(notification)

    def sent_ids(self) -> list[str]:
        with self._lock:
            return [n.event_id for n in self.sent]


class GateTransport(RecordingTransport):
    """Sends block until `gate` is set (only for ids in `blocking`, or all if None); tracks concurrency."""

    def __init__(self, blocking: set[str] | None = None) -> None:
        super().__init__()
        self.blocking = blocking
        self.gate = threading.Event()
        self.in_flight = 0
        self.max_in_flight = 0
        self._changed = threading.Condition()

    def send(self, notification) -> None:
        with self._changed:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._changed.notify_all()
        try:
            if self.blocking is None or notification.event_id in self.blocking:
                assert self.gate.wait(WAIT), "gate was never opened"
            super().send(notification)
        finally:
            with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()

    def wait_in_flight(self, count: int) -> bool:
        """Wait until exactly `count` sends are blocked inside the transport."""
        with self._changed:
            return self._changed.wait_for(lambda: self.in_flight == count, WAIT)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def outbox() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def gate() -> GateTransport:
    """A transport whose sends all wait for `gate.gate.set()`; narrow it with `.blocking = {ids}`."""
    return GateTransport()
