"""What to do when a send fails transiently: retry with exponential backoff."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """After failed attempt n, wait `base_delay * factor ** (n - 1)` seconds while retries remain.

    The defaults give one first attempt and three retries, after waits of 1 s, 2 s and 4 s.
    """

    max_retries: int = 3
    base_delay: float = 1.0
    factor: float = 2.0

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def next_delay(self, attempt: int) -> float | None:
        """Seconds to wait after failed attempt number `attempt` (from 1), or None to give up."""
        if attempt < 1:
            raise ValueError("attempts are numbered from 1")
        if attempt > self.max_retries:
            return None
        return self.base_delay * self.factor ** (attempt - 1)

    def delays(self) -> list[float]:
        """Every wait this policy allows, in order."""
        return [self.base_delay * self.factor**n for n in range(self.max_retries)]
