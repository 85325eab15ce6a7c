"""PASS_TO_PASS: the contract of notify_users that the original and the refactor share.

Small inputs and fakes that return at once, so the sequential original passes in milliseconds.
The implementation under test is whichever `notify_service` is first on PYTHONPATH.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import notify_service
import pytest


class Rejected(Exception):
    """An ordinary application error a send may raise."""


class Fatal(BaseException):
    """A fatal error that is neither an Exception nor one of Python's own."""


class RecordingSend:
    """A fake send_notification: records each call and answers `receipt(user_id, payload)` at once.

    Tests count only the calls that carry their own payload: a concurrent implementation may
    still be finishing sends of an earlier test whose batch a fatal error cut short.
    """

    def __init__(self, fail: dict[Any, BaseException] | None = None) -> None:
        self.fail = fail or {}
        self.calls: list[tuple[Any, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, user_id: Any, payload: Any) -> str:
        with self._lock:
            self.calls.append((user_id, payload))
        if user_id in self.fail:
            raise self.fail[user_id]
        return receipt(user_id, payload)

    def users_sent(self, payload: Any) -> list[Any]:
        """The user ids of the calls made with this very payload object, in call order."""
        with self._lock:
            return [user_id for user_id, seen in self.calls if seen is payload]


def receipt(user_id: Any, payload: Any) -> str:
    return f"fake receipt {user_id}/{payload}"


@pytest.fixture
def fake_send(monkeypatch: pytest.MonkeyPatch):
    """Install a RecordingSend as notify_service.send_notification; call it with the failures to raise."""

    def install(fail: dict[Any, BaseException] | None = None) -> RecordingSend:
        send = RecordingSend(fail)
        monkeypatch.setattr(notify_service, "send_notification", send)
        return send

    return install


def test_results_follow_input_order(fake_send) -> None:
    send = fake_send()
    users = [17, 3, 42, 3, 8, 0, 99, 5]  # unsorted, with a repeated id
    payload = "in order"

    results = notify_service.notify_users(users, payload)

    assert type(results) is list
    assert results == [receipt(user, payload) for user in users]
    assert Counter(send.users_sent(payload)) == Counter(users), "every user is sent exactly once"


def test_payload_reaches_every_send_unchanged(fake_send) -> None:
    send = fake_send()
    payload = {"title": "maintenance", "at": "02:00"}

    notify_service.notify_users([1, 2, 3], payload)

    assert sorted(send.users_sent(payload)) == [1, 2, 3], "each send gets the caller's payload object itself"


def test_empty_input_returns_empty_list_without_sending(fake_send) -> None:
    send = fake_send()

    payload = "nobody"

    results = notify_service.notify_users([], payload)

    assert results == [] and type(results) is list
    assert send.users_sent(payload) == []


@pytest.mark.parametrize(
    "make_users", [tuple, iter, lambda ids: (user for user in ids)], ids=["tuple", "iterator", "generator"]
)
def test_accepts_any_iterable_of_users(fake_send, make_users) -> None:
    fake_send()
    users = [4, 1, 3]

    results = notify_service.notify_users(make_users(users), "hi")

    assert results == [receipt(user, "hi") for user in users]


def test_ordinary_errors_become_their_message_at_their_index(fake_send) -> None:
    fail = {
        2: ValueError("user 2 has no address"),
        5: Rejected("quota exceeded for user 5"),
        6: RuntimeError(""),  # an empty message stays an empty string
    }
    send = fake_send(fail)
    users = list(range(9))

    payload = "with errors"

    results = notify_service.notify_users(users, payload)

    expected = [str(fail[user]) if user in fail else receipt(user, payload) for user in users]
    assert results == expected
    assert sorted(send.users_sent(payload)) == users, "the batch goes on after an ordinary error"


@pytest.mark.parametrize("fatal_type", [KeyboardInterrupt, SystemExit, Fatal])
def test_fatal_errors_propagate(fake_send, fatal_type: type[BaseException]) -> None:
    fake_send({3: fatal_type("stop at user 3")})

    with pytest.raises(fatal_type) as raised:
        notify_service.notify_users(range(6), "hi")

    assert str(raised.value) == "stop at user 3"


def test_send_notification_is_looked_up_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = RecordingSend(), RecordingSend({2: ValueError("second fake rejects 2")})

    monkeypatch.setattr(notify_service, "send_notification", first)
    assert notify_service.notify_users([1, 2], "a") == [receipt(1, "a"), receipt(2, "a")]

    monkeypatch.setattr(notify_service, "send_notification", second)
    assert notify_service.notify_users([1, 2], "b") == [receipt(1, "b"), "second fake rejects 2"]
    assert sorted(first.users_sent("a")) == [1, 2] and sorted(second.users_sent("b")) == [1, 2]


def test_real_send_notification_contract() -> None:
    """The module's own send: a receipt string, and a ValueError for an invalid id (about 60 ms)."""
    with pytest.raises(ValueError) as invalid:
        notify_service.send_notification(-1, "hi")

    results = notify_service.notify_users([7, -1, 8], "hi")

    assert results == [
        notify_service.send_notification(7, "hi"),
        str(invalid.value),
        notify_service.send_notification(8, "hi"),
    ]
    assert all(isinstance(result, str) for result in results)
