"""The notification service: queue events, then send them one at a time."""

from __future__ import annotations

from .channels import EmailNotification, Notification, SmsNotification
from .models import DeliveryResult, Event
from .queueing import EventQueue
from .rate_limit import RateLimiter
from .transport import Outbox, Transport


class NotificationService:
    """Sends queued events in the caller's thread, each time `process_once()` is called."""

    def __init__(self, transport: Transport | None = None) -> None:
        self.transport: Transport = transport if transport is not None else Outbox()
        self.queue = EventQueue()  # TODO: Backpressure. Grows without limit.
        self.rate_limiter = RateLimiter()
        self.results: list[DeliveryResult] = []

    def enqueue(self, event: Event) -> None:
        self.queue.put(event)

    def pending(self) -> int:
        return len(self.queue)

    def process_once(self) -> DeliveryResult | None:
        """Send the oldest queued event; None when the queue is empty."""
        # TODO: Concurrency. One event at a time, in whichever thread calls this.
        event = self.queue.get()
        if event is None:
            return None
        result = self._deliver(event)
        self.results.append(result)
        return result

    def process_all(self) -> list[DeliveryResult]:
        """Send everything queued, in order, and return the results of this call."""
        done = []
        while (result := self.process_once()) is not None:
            done.append(result)
        return done

    def _deliver(self, event: Event) -> DeliveryResult:
        # TODO: Dedup. The same event queued twice is sent twice.
        # TODO: Factory. Every new channel means another branch here.
        notification: Notification
        if event.channel == "email":
            notification = EmailNotification.from_event(event)
        elif event.channel == "sms":
            notification = SmsNotification.from_event(event)
        else:
            return DeliveryResult(ok=False, reason="unknown_channel", event_id=event.id)
        if not self.rate_limiter.allow(event.user_id, event.channel):
            return DeliveryResult(ok=False, reason="rate_limited", event_id=event.id)
        try:
            self.transport.send(notification)
        except Exception:
            # TODO: Retry. A transient hiccup loses the notification for good.
            return DeliveryResult(ok=False, reason="failed", event_id=event.id, attempts=1)
        return DeliveryResult(ok=True, event_id=event.id, attempts=1)
