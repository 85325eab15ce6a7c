"""What to do when a send fails."""

from __future__ import annotations


class RetryPolicy:
    """Placeholder: one attempt, never a second."""

    max_attempts = 1

    def next_delay(self, attempt: int) -> float | None:
        """Seconds to wait after failed attempt number `attempt`, or None to give up."""
        # TODO: Retry. A flaky gateway loses the notification on its first hiccup.
        return None
