"""PASS_TO_PASS: what the original gets right and the refactor must keep, locks or not: the store and the
statistics can be read again and again, and a call that fails on a bad argument leaves the object working."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import notifsim.storage as storage
import pytest
from notifsim.events import DeliveryCompleted, EventBus, MessageSent
from notifsim.models import Delivery, DeliveryStatus
from notifsim.stats import StatisticsCollector
from notifsim.storage import InMemoryStore

WAIT = 5.0  # generous: only a broken implementation ever waits this long


def returns_in_time(call: Callable[[], Any]) -> tuple[bool, Any]:
    """Run `call` on a daemon thread: (True, its result or exception) within WAIT seconds, else (False, None)."""
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # the outcome under test
            outcome["value"] = exc
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(WAIT), outcome.get("value")


def completed(message_id: Any, status: DeliveryStatus = DeliveryStatus.OPENED) -> DeliveryCompleted:
    return DeliveryCompleted(Delivery(1, message_id, status))


def test_the_store_can_be_read_again_and_again():
    store = InMemoryStore()
    for _ in range(2):
        assert returns_in_time(store.deliveries) == (True, [])
        assert returns_in_time(store.users) == (True, [])
        assert returns_in_time(store.messages) == (True, [])
    returned, user = returns_in_time(lambda: store.add_user("ada", "ada@example.com"))
    assert returned and user.id == 1, "the store stayed locked after it was read"


def test_the_statistics_can_be_read_again_and_again():
    collector = StatisticsCollector()
    for _ in range(2):
        returned, stats = returns_in_time(lambda: collector.snapshot(users=0, messages=0))
        assert returned and stats.deliveries == 0
    assert returns_in_time(lambda: collector.on_delivery_completed(completed(1)))[0]
    assert returns_in_time(lambda: collector.snapshot(users=1, messages=1))[1].opened == 1


def test_a_delivery_with_an_unusable_message_id_leaves_the_statistics_working():
    collector = StatisticsCollector()
    returned, error = returns_in_time(lambda: collector.on_delivery_completed(completed([])))
    assert returned and isinstance(error, TypeError), error
    returned, stats = returns_in_time(lambda: collector.snapshot(users=0, messages=0))
    assert returned and stats.deliveries == 0, "the statistics stayed locked after a count failed"


def test_an_unusable_event_type_leaves_the_bus_working():
    bus = EventBus()
    returned, error = returns_in_time(lambda: bus.subscribe([], print))  # not a type: unhashable
    assert returned and isinstance(error, TypeError), error
    seen: list[Any] = []
    assert returns_in_time(lambda: bus.subscribe(MessageSent, seen.append))[0], "the bus stayed locked"
    event = MessageSent(None)
    assert returns_in_time(lambda: bus.publish(event))[0]
    assert seen == [event]


def fails_once(make: Callable[..., Any]) -> Callable[..., Any]:
    """`make`, but its first call raises MemoryError (what building a record can raise at any time)."""
    calls: list[None] = []

    def build(*args: Any, **kwargs: Any) -> Any:
        calls.append(None)
        if len(calls) == 1:
            raise MemoryError("no room for the record")
        return make(*args, **kwargs)

    return build


@pytest.mark.parametrize(
    ("record", "add", "listing"),
    [
        ("User", lambda store: store.add_user("ada", "ada@example.com"), InMemoryStore.users),
        ("Message", lambda store: store.add_message("hello", "body"), InMemoryStore.messages),
    ],
    ids=["user", "message"],
)
def test_a_record_that_cannot_be_made_leaves_the_store_working(monkeypatch, record, add, listing):
    store = InMemoryStore()
    monkeypatch.setattr(storage, record, fails_once(getattr(storage, record)))
    returned, error = returns_in_time(lambda: add(store))
    assert returned and isinstance(error, MemoryError), error
    returned, added = returns_in_time(lambda: add(store))
    assert returned and added.id == 1, "the store stayed locked after adding a record failed"
    assert returns_in_time(lambda: listing(store)) == (True, [added])
