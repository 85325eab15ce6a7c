"""How often a user may be notified on one channel."""

from __future__ import annotations


class RateLimiter:
    """Placeholder: every send is allowed."""

    def allow(self, user_id: str, channel: str) -> bool:
        # TODO: Rate limiting. Nothing stops a burst of events from spamming one user.
        return True
