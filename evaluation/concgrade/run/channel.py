"""The harness's ends of a run's pipes: signed records from the plugin, and bounded tails of stdout and stderr.

The records travel on an inherited pipe whose number the code under test is not given, signed with a
per-run key that reaches the process on the boot's own pipe, read and closed before any test code runs.
A line that does not carry a valid signature and a sequence number past the last one is counted as forged,
never used; so is a line longer than any record (kept in memory only up to that length).
"""

from __future__ import annotations

import os
import secrets
import selectors
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from concgrade.inside.protocol import KEY_BYTES, verified_record

# The plugin's records of one process kept in memory; beyond this they are counted and dropped.
RECORDS_BUDGET = 64 * 2**20
# No record is longer (the plugin clips captured output to 64 KiB per phase); a longer line is not one of ours.
LINE_LIMIT = 4 * 2**20
READ_CHUNK = 1 << 16


@dataclass
class ChannelFds:
    """The child's end: the records pipe to write to, passed with `pass_fds`."""

    records_write: int

    def close(self) -> None:
        try:
            os.close(self.records_write)
        except OSError:
            pass


@dataclass
class RecordsState:
    records: list[dict[str, Any]] = field(default_factory=list)
    forged: list[str] = field(default_factory=list)  # the first bytes of each rejected line
    dropped: int = 0  # genuine records beyond the budget
    lost: int = 0  # genuine numbers never seen (a line cut short, e.g. by a signal)
    oversized: int = 0  # lines longer than LINE_LIMIT, thrown away as they came
    size: int = 0


class PipeReader(threading.Thread):
    """Drains one pipe until its writers are gone or `stop()` is called, feeding each chunk to `on_data`."""

    def __init__(self, fd: int, on_data: Callable[[bytes], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.fd = fd
        self.on_data = on_data
        self._stop_requested = threading.Event()

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.fd, selectors.EVENT_READ)
        try:
            while not self._stop_requested.is_set():
                if not selector.select(timeout=0.1):
                    continue
                data = os.read(self.fd, READ_CHUNK)
                if not data:
                    break
                self.on_data(data)
        except OSError:
            pass
        finally:
            selector.close()
            os.close(self.fd)

    def stop(self, timeout: float) -> None:
        """Wait up to `timeout` for the end of the stream, then stop reading (a writer may have escaped)."""
        self.join(timeout)
        self._stop_requested.set()
        self.join()


class RecordChannel:
    """The harness's end of the records pipe: verifies, keeps and announces each record as it arrives."""

    def __init__(self, on_record: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.key = secrets.token_bytes(KEY_BYTES)
        read_end, write_end = os.pipe()
        self.child = ChannelFds(write_end)
        self.state = RecordsState()
        self._pending = bytearray()
        self._skipping = False  # inside a line already too long: drop bytes until its end
        self._seq = 0
        self._on_record = on_record
        self.reader = PipeReader(read_end, self._feed, "concgrade-records")

    def start(self) -> None:
        """Begin reading; the child's ends are closed here, so the stream ends when the run's processes do."""
        self.reader.start()
        self.child.close()

    def _feed(self, data: bytes) -> None:
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end]
            if not self._skipping:
                self._pending += piece
                if len(self._pending) > LINE_LIMIT:
                    self._skipping = True
                    self.state.oversized += 1
                    self.state.forged.append(bytes(self._pending[:200]).decode("utf-8", "replace"))
                    self._pending.clear()
            if end < 0:
                return
            if not self._skipping:
                self._take(bytes(self._pending).decode("utf-8", "replace"))
            self._pending.clear()
            self._skipping = False
            start = end + 1

    def _take(self, line: str) -> None:
        if not line.strip():
            return
        record = verified_record(self.key, line, self._seq)
        if record is None:
            if len(self.state.forged) < 100:
                self.state.forged.append(line[:200])
            return
        number = int(line.partition(" ")[0])
        self.state.lost += number - self._seq
        self._seq = number + 1
        self.state.size += len(line)
        if self.state.size > RECORDS_BUDGET:
            self.state.dropped += 1
            return
        self.state.records.append(record)
        if self._on_record is not None:
            self._on_record(record)

    def finish(self, timeout: float) -> RecordsState:
        self.reader.stop(timeout)
        # A last line without its newline was cut short by the process dying: it is not a record.
        return self.state


class OutputTail:
    """Keeps the last `limit` bytes of a stream and counts all of them: a flood costs no memory and no disk."""

    def __init__(self, fd: int, limit: int, name: str) -> None:
        self.limit = limit
        self.total = 0
        self._tail = bytearray()
        self._lock = threading.Lock()
        self.reader = PipeReader(fd, self._feed, name)

    def _feed(self, data: bytes) -> None:
        with self._lock:
            self.total += len(data)
            self._tail += data
            if len(self._tail) > self.limit:
                del self._tail[: len(self._tail) - self.limit]

    def text(self) -> str:
        with self._lock:
            text = bytes(self._tail).decode("utf-8", "replace")
            cut = self.total - len(self._tail)
        return f"[concgrade: first {cut} bytes cut]\n{text}" if cut else text
