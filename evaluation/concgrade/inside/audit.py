"""The one PEP 578 audit hook of a graded process: installed by the boot, it hands events to registered listeners.

An audit hook cannot be removed from Python once added, so it is installed before any task code runs.
Listeners register for the events they care about while the trusted start runs; `start()` seals the set
(kept only in the hook's closure, never in an attribute) and installs the hook. The hook costs a set lookup
for every other event. Listeners run with a re-entry guard: events they raise themselves are not dispatched.
Standard library only: it runs beside the code under test.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

Listener = Callable[[str, tuple[Any, ...]], None]

_pending: list[tuple[frozenset[str], Listener]] = []
_started = threading.Event()


def listen(events: Iterable[str], listener: Listener) -> None:
    """Have `listener(event, args)` called for each of these events, from `start()` on (refused afterwards)."""
    if _started.is_set():
        raise RuntimeError("the audit hook is sealed: listeners register before it starts")
    _pending.append((frozenset(events), listener))


def start() -> bool:
    """Install the hook with every registered listener; True if it was installed (once per process)."""
    if _started.is_set():
        return False
    by_event: dict[str, tuple[Listener, ...]] = {}
    for events, listener in _pending:
        for event in events:
            by_event[event] = (*by_event.get(event, ()), listener)
    _pending.clear()
    _started.set()
    sys.addaudithook(_dispatcher(by_event))
    return True


def _dispatcher(by_event: dict[str, tuple[Listener, ...]]) -> Callable[[str, tuple[Any, ...]], None]:
    table = dict(by_event)  # the closure's own copy: nothing outside holds it
    busy = threading.local()
    get = table.get

    def hook(event: str, args: tuple[Any, ...]) -> None:
        listeners = get(event)
        if listeners is None or getattr(busy, "on", False):
            return
        busy.on = True
        try:
            for listener in listeners:
                listener(event, args)
        finally:
            busy.on = False

    return hook
