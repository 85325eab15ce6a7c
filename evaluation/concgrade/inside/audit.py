"""The one audit hook of a graded process (PEP 578): installed once, it hands each event to the listeners of its name.

An audit hook cannot be removed once added and every hook sees every audited event, so a graded process has
exactly one, this module's, and everything inside the test process that watches events registers here
(`listen`). A listener that raises denies the event: the exception reaches the code that caused it. A listener
that only records must therefore never raise. Events raised while a listener runs (it opens a file, say) are
not dispatched again on that thread. Standard library only: it runs beside the code under test.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

Listener = Callable[[str, tuple[Any, ...]], None]

_listeners: dict[str, tuple[Listener, ...]] = {}
_installed = False
_local = threading.local()


def listen(event: str, listener: Listener) -> None:
    """Call `listener(event, args)` for every later `event` in this process (and install the hook if need be)."""
    _listeners[event] = (*_listeners.get(event, ()), listener)  # one assignment: readers see old or new
    install()


def installed() -> bool:
    return _installed


def install() -> None:
    """Add the process's audit hook, once."""
    global _installed
    if not _installed:
        sys.addaudithook(_dispatch)
        _installed = True


def _dispatch(event: str, args: tuple[Any, ...]) -> None:
    listeners = _listeners.get(event) if _listeners else None  # None at interpreter shutdown
    if not listeners or getattr(_local, "busy", False):
        return
    _local.busy = True
    try:
        for listener in listeners:
            listener(event, args)
    finally:
        _local.busy = False
