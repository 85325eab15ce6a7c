"""The test process's end of the records channel: one writer, holding its key, descriptor and count in a closure.

Nothing of it is an attribute of an object the code under test could reach by name: the key, the pipe's
number and the sequence number live in the writer's closure, and the functions it calls are bound when it is
made. A process forked from the test process never writes (its lines would repeat the parent's numbers).
Standard library only: it runs beside the code under test.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from typing import Any

from concgrade.inside.protocol import line_signer

Write = Callable[[Any], None]


def open_writer(fd: int, key: bytes) -> Write:
    """A function that signs, numbers and writes one record to the pipe `fd` (thread-safe)."""
    sign = line_signer(key)
    numbers = itertools.count()
    lock = threading.Lock()
    owner = os.getpid()

    def write(
        record: Any, _write: Callable[[int, bytes], int] = os.write, _getpid: Callable[[], int] = os.getpid
    ) -> None:
        if _getpid() != owner:
            return
        with lock:
            data = sign(next(numbers), record)
            while data:  # a signal (pytest-timeout's alarm) can cut a large write to a pipe short
                written = _write(fd, data)
                data = data[written:]

    return write


def file_writer(path: str) -> Write:
    """Unsigned JSON lines appended to a file (`--concgrade-records`, outside graded runs)."""
    import json

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    lock = threading.Lock()

    def write(record: Any) -> None:
        data = (json.dumps(record, default=str) + "\n").encode("utf-8", "replace")
        with lock:
            while data:
                data = data[os.write(fd, data) :]

    return write


class RecordStream:
    """What the harness's own programs (the history driver) write records to: `write` is the channel's writer,
    whose key, descriptor and count stay in its closure."""

    def __init__(self, write: Write) -> None:
        self.write = write
