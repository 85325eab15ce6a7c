"""The simulator: wires storage, the event bus, the delivery workers and statistics together."""

from __future__ import annotations

import time
from types import TracebackType

from .delivery import DeliveryService, Sleep, check_ratio
from .dispatch import WorkerPool
from .events import DeliveryCompleted, DeliveryRequested, EventBus, MessageSent
from .models import Message, User
from .stats import Statistics, StatisticsCollector
from .storage import InMemoryStore


class Simulator:
    """Runs a campaign: every message sent goes to every user, `workers` deliveries at a time.

    Deliveries travel as DeliveryRequested events through a queue of at most `queue_size` events to the
    worker pool; `send` returns once they are all queued, and `wait` / `statistics` once they are done.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        loss_ratio: float = 0.1,
        open_ratio: float = 0.3,
        latency: float = 0.001,
        sleep: Sleep = time.sleep,
        workers: int = 8,
        queue_size: int = 64,
    ) -> None:
        self.store = InMemoryStore()
        self.collector = StatisticsCollector()
        # Checked before the pool exists, so a bad argument leaves no threads behind.
        check_ratio("loss_ratio", loss_ratio)
        check_ratio("open_ratio", open_ratio)
        self.pool = WorkerPool(workers, queue_size)
        self.bus = EventBus(self.pool)
        self.delivery = DeliveryService(
            self.store,
            self.bus,
            seed=seed,
            loss_ratio=loss_ratio,
            open_ratio=open_ratio,
            latency=latency,
            sleep=sleep,
        )
        # Fan-out stays in the caller's thread: a worker that queued deliveries could block on its own queue.
        self.bus.subscribe(MessageSent, self.delivery.on_message_sent)
        self.bus.subscribe(DeliveryRequested, self.delivery.on_delivery_requested, background=True)
        self.bus.subscribe(DeliveryCompleted, self.collector.on_delivery_completed)

    def create_users(self, count: int) -> list[User]:
        start = len(self.store.users()) + 1
        return [self.store.add_user(f"user-{n:04d}", f"user-{n:04d}@example.com") for n in range(start, start + count)]

    def create_message(self, subject: str, body: str) -> Message:
        return self.store.add_message(subject, body)

    def send(self, message: Message) -> None:
        """Queue one delivery of `message` per user; waits only while the queue is full."""
        self.bus.publish(MessageSent(message))

    def wait(self) -> None:
        """Return once every queued delivery is done; raises JobFailedError if one of them raised."""
        self.pool.join()

    def statistics(self) -> Statistics:
        self.wait()
        return self.collector.snapshot(users=len(self.store.users()), messages=len(self.store.messages()))

    def close(self) -> None:
        """Finish the queued deliveries and stop the worker threads."""
        self.pool.close()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
