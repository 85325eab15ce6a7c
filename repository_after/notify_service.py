"""Notification service, concurrent version: ordered results, at most 50 sends at once per process."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

# The hard ceiling on concurrent send_notification calls made by notify_users, for the whole
# process: it is the size of the one pool that every call shares.
MAX_WORKERS = 50

# Simulated I/O: each send blocks like a network call, each lookup like a quick database read.
SEND_LATENCY = 0.020
LOOKUP_LATENCY = 0.002

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def send_notification(user_id: Any, payload: Any) -> str:
    """Send `payload` to one user and return the delivery receipt; blocks for about 20 ms.

    Raises ValueError for an id that cannot be a user (not a non-negative integer).
    """
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 0:
        raise ValueError(f"invalid user id: {user_id!r}")
    time.sleep(SEND_LATENCY)
    return f"notified user {user_id}: {payload}"


def lookup_user(user_id: Any) -> dict[str, Any]:
    """Fetch the user's record before sending (simulated: a short blocking read)."""
    time.sleep(LOOKUP_LATENCY)
    return {"id": user_id}


def _forget_pool_in_child() -> None:
    """After os.fork the child holds the parent's pool object but none of its threads (and the lock may have
    been held by a thread that does not exist there): the child starts with no pool, as a new process does."""
    global _executor, _executor_lock
    _executor = None
    _executor_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def _shared_executor() -> ThreadPoolExecutor:
    """The one pool all notify_users calls share, created on first use.

    Sends run only on this pool's MAX_WORKERS threads, so the limit holds however many threads
    call notify_users at once (a pool per call would multiply it instead). The lock makes the
    first-use check and the creation one step, so two first callers cannot build two pools.
    """
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="notify")
        return _executor


def _notify_one(user_id: Any, payload: Any) -> Any:
    """Look one user up and send; an ordinary error becomes its message, anything fatal escapes."""
    lookup_user(user_id)
    try:
        # A global name, resolved at each call: replacing notify_service.send_notification
        # (as tests and callers may do) takes effect, which an alias bound at import would not.
        return send_notification(user_id, payload)
    except Exception as exc:  # not BaseException: KeyboardInterrupt and SystemExit must get through
        return str(exc)


def notify_users(user_ids: Iterable[Any], payload: Any) -> list[Any]:
    """Notify every user concurrently; results[i] is the receipt for user_ids[i], or the error message.

    At most MAX_WORKERS of this call's users are taken from `user_ids` and not yet finished at any time:
    the input is read lazily, a new user only when one comes out, so a batch of thousands (or an endless
    generator) never becomes thousands of pending futures or a list held in memory. A fatal error (a
    BaseException that is not an Exception) cancels what has not started and propagates; sends already
    running cannot be interrupted and finish alone.
    """
    executor = _shared_executor()
    upcoming: Iterator[tuple[int, Any]] = enumerate(user_ids)
    results: list[Any] = []
    in_flight: dict[Future[Any], int] = {}

    def submit(count: int) -> None:
        for index, user_id in itertools.islice(upcoming, count):
            results.append(None)  # the slot of input `index`, filled when its send is done
            in_flight[executor.submit(_notify_one, user_id, payload)] = index

    try:
        submit(MAX_WORKERS)
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                index = in_flight.pop(future)
                # The index travels with the future, so completion order cannot reorder results.
                # result() re-raises only what _notify_one let through: fatal errors.
                results[index] = future.result()
            # Refill only after the whole batch of completions was read: once a fatal error
            # is seen, nothing new is started.
            submit(len(done))
    except BaseException:
        # Also reached when Ctrl-C interrupts this thread while it waits.
        for future in in_flight:
            future.cancel()
        raise
    return results
