"""Failures pytest can report: every traceback entry given a line number before pytest formats it.

On Python 3.11 and newer a traceback entry has no line number (`tb_lineno` is None) when its frame was at a
bytecode without one, which is where a signal handler runs when the signal lands on such a bytecode: the jump
back of a loop over a `with` block, as in `concurrent.futures.wait`, is one. pytest-timeout's signal method
fails a test from its SIGALRM handler, and pytest (7 to 9) then crashes formatting that failure
(`tb_lineno - 1`: INTERNALERROR), which ends the whole session: the test's real failure is lost, and every
later test is never run. The entry gets the line of the nearest bytecode before it that has one.
Standard library only (and pytest's public ExceptionInfo): it runs beside the code under test.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any


def nearest_line(code: types.CodeType, offset: int) -> int:
    """The line of the last bytecode at or before `offset` that has one; the function's first line if none does."""
    line = code.co_firstlineno
    for start, _end, number in code.co_lines():
        if start > offset:
            break
        if number is not None:
            line = number
    return line


def has_lineless_entry(tb: types.TracebackType | None) -> bool:
    while tb is not None:
        if tb.tb_lineno is None:
            return True
        tb = tb.tb_next
    return False


def with_lines(tb: types.TracebackType | None) -> types.TracebackType | None:
    """`tb` itself when every entry has a line number; otherwise the same entries, each with one."""
    if not has_lineless_entry(tb):
        return tb
    entries = []
    while tb is not None:
        entries.append(tb)
        tb = tb.tb_next
    rebuilt: types.TracebackType | None = None
    for entry in reversed(entries):
        line = entry.tb_lineno
        if line is None:
            line = nearest_line(entry.tb_frame.f_code, entry.tb_lasti)
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, line)
    return rebuilt


def chained(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception pytest also shows with it: causes, contexts, an exception group's members."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [linked for linked in (current.__cause__, current.__context__) if linked is not None]
        pending += [member for member in getattr(current, "exceptions", ()) if isinstance(member, BaseException)]


def give_lines(excinfo: Any) -> Any:
    """A pytest ExceptionInfo whose tracebacks all have line numbers: `excinfo` itself when they already do, or
    when the exception is made so that they cannot be looked at (pytest then reports it as it can)."""
    try:
        return _with_every_line(excinfo)
    except Exception:
        return excinfo


def _with_every_line(excinfo: Any) -> Any:
    repaired = False
    for exc in chained(excinfo.value):
        if has_lineless_entry(exc.__traceback__):
            exc.__traceback__ = with_lines(exc.__traceback__)
            repaired = True
    if not repaired and not has_lineless_entry(excinfo.tb):
        return excinfo
    return type(excinfo).from_exc_info((excinfo.type, excinfo.value, with_lines(excinfo.tb)))
