"""How often a user may be notified on one channel: a token bucket per (user, channel)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Clock = Callable[[], float]

# Tolerance for float error in the refill, so that exactly one refill period yields exactly one token.
_EPSILON = 1e-9


class TokenBucket:
    """Holds up to `capacity` tokens, refilled evenly at `capacity` per `period` seconds.

    Not locked by itself: `RateLimiter` serialises access to all its buckets.
    """

    def __init__(self, capacity: int, period: float, now: float) -> None:
        self.capacity = capacity
        self.period = period
        self.tokens = float(capacity)
        self._updated = now

    def try_take(self, now: float) -> bool:
        elapsed = now - self._updated
        if elapsed > 0:
            # Multiply before dividing: 12 s of a 5-per-60 s bucket is exactly 1.0 token this way.
            self.tokens = min(float(self.capacity), self.tokens + elapsed * self.capacity / self.period)
            self._updated = now
        if self.tokens >= 1 - _EPSILON:
            self.tokens = max(0.0, self.tokens - 1)
            return True
        return False


class RateLimiter:
    """At most `capacity` sends per `period` seconds for each (user_id, channel), bursts included."""

    def __init__(self, capacity: int = 5, period: float = 60.0, clock: Clock = time.monotonic) -> None:
        if capacity < 1 or period <= 0:
            raise ValueError("capacity must be at least 1 and period positive")
        self.capacity = capacity
        self.period = period
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def allow(self, user_id: str, channel: str) -> bool:
        """Take one token for (user_id, channel) if there is one."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get((user_id, channel))
            if bucket is None:
                bucket = self._buckets[(user_id, channel)] = TokenBucket(self.capacity, self.period, now)
            return bucket.try_take(now)
