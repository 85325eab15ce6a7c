"""The notification service: a bounded queue of events drained by a pool of worker threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from .channels import ChannelRegistry, Notification, UnknownChannelError, default_registry
from .models import DeliveryResult, Event
from .queueing import EventQueue, QueueClosedError
from .rate_limit import Clock, RateLimiter
from .retry import RetryPolicy
from .transport import Outbox, TransientDeliveryError, Transport

Sleep = Callable[[float], None]


class ServiceStoppedError(RuntimeError):
    """The service was stopped and accepts no more events."""


class NotificationService:
    """Accepts events into a bounded queue and sends them from `workers` threads between start() and stop().

    Every accepted event gets exactly one `DeliveryResult`: sent, or refused with a reason
    (`unknown_channel`, `duplicate`, `rate_limited`, `failed`, `retries_exhausted`, `error`).
    `process_once()` / `process_all()` still send in the caller's thread, for scripts and tests.
    """

    def __init__(
        self,
        transport: Transport | None = None,
        *,
        workers: int = 4,
        max_queue_size: int = 1000,
        registry: ChannelRegistry | None = None,
        rate_limiter: RateLimiter | None = None,
        retry_policy: RetryPolicy | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.transport: Transport = transport if transport is not None else Outbox()
        self.queue = EventQueue(max_queue_size)
        self.registry = registry if registry is not None else default_registry
        self.rate_limiter = rate_limiter if rate_limiter is not None else RateLimiter(clock=clock)
        self.retry_policy = retry_policy if retry_policy is not None else RetryPolicy()
        self.workers = workers
        self._sleep = sleep
        self._lock = threading.Lock()  # guards _results, _claimed and _state
        self._results: list[DeliveryResult] = []
        # Ids of events being sent or already sent; claiming before sending is what makes dedup hold
        # when two workers pick up copies of one event at the same moment.
        self._claimed: set[str] = set()
        self._state = "new"
        self._threads: list[threading.Thread] = []

    # -- producer side ---------------------------------------------------------------------------

    def enqueue(self, event: Event) -> None:
        """Queue `event`; raises QueueFullError when the queue is full, ServiceStoppedError after stop()."""
        try:
            self.queue.put(event)
        except QueueClosedError as exc:
            raise ServiceStoppedError("the service is stopped") from exc

    def pending(self) -> int:
        return len(self.queue)

    @property
    def rejected_count(self) -> int:
        """How many events enqueue() refused because the queue was full."""
        return self.queue.rejected

    @property
    def results(self) -> list[DeliveryResult]:
        """A snapshot of all results so far, in the order they were decided."""
        with self._lock:
            return list(self._results)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker threads; events queued before start() are sent too."""
        with self._lock:
            if self._state != "new":
                raise RuntimeError(f"cannot start a service that is {self._state}")
            self._state = "running"
            self._threads = [
                threading.Thread(target=self._work, name=f"notif-worker-{n}", daemon=True) for n in range(self.workers)
            ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Refuse new events, let the workers finish everything already queued, then return.

        Waits as long as the in-flight sends (and their backoff) take: a bounded wait would have to
        abandon accepted events, which is exactly what stop() promises not to do.
        """
        with self._lock:
            if self._state == "stopped":
                return
            self._state = "stopped"
        self.queue.close()
        for thread in self._threads:
            thread.join()
        # Without workers (never started) the caller's thread sends what is left.
        self.process_all()

    def __enter__(self) -> NotificationService:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- consumer side ---------------------------------------------------------------------------

    def process_once(self) -> DeliveryResult | None:
        """Send the oldest queued event in the caller's thread; None when the queue is empty."""
        event = self.queue.get()
        return None if event is None else self._handle(event)

    def process_all(self) -> list[DeliveryResult]:
        """Send everything queued, in the caller's thread, and return the results of this call."""
        done = []
        while (result := self.process_once()) is not None:
            done.append(result)
        return done

    def _work(self) -> None:
        while (event := self.queue.take()) is not None:
            self._handle(event)

    def _handle(self, event: Event) -> DeliveryResult:
        try:
            result = self._deliver(event)
        except Exception:
            # A broken channel class or transport must cost one event, not a worker thread.
            result = DeliveryResult(ok=False, reason="error", event_id=event.id)
        with self._lock:
            self._results.append(result)
        return result

    def _deliver(self, event: Event) -> DeliveryResult:
        try:
            notification = self.registry.build(event)
        except UnknownChannelError:
            return DeliveryResult(ok=False, reason="unknown_channel", event_id=event.id)
        if not self._claim(event.id):
            return DeliveryResult(ok=False, reason="duplicate", event_id=event.id)
        result = DeliveryResult(ok=False, reason="error", event_id=event.id)
        try:
            if not self.rate_limiter.allow(event.user_id, event.channel):
                result = DeliveryResult(ok=False, reason="rate_limited", event_id=event.id)
            else:
                result = self._send_with_retry(notification)
        finally:
            if not result.ok:
                # Not sent: a later copy of the event may try again.
                self._release(event.id)
        return result

    def _send_with_retry(self, notification: Notification) -> DeliveryResult:
        attempt = 0
        while True:
            attempt += 1
            try:
                self.transport.send(notification)
            except TransientDeliveryError:
                delay = self.retry_policy.next_delay(attempt)
                if delay is None:
                    return DeliveryResult(
                        ok=False, reason="retries_exhausted", event_id=notification.event_id, attempts=attempt
                    )
                self._sleep(delay)
            except Exception:
                return DeliveryResult(ok=False, reason="failed", event_id=notification.event_id, attempts=attempt)
            else:
                return DeliveryResult(ok=True, event_id=notification.event_id, attempts=attempt)

    def _claim(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self._claimed:
                return False
            self._claimed.add(event_id)
            return True

    def _release(self, event_id: str) -> None:
        with self._lock:
            self._claimed.discard(event_id)
