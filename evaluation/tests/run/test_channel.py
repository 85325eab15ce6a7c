"""The records channel: signed lines from the real plugin stream, forged lines refused, bounded output tails."""

from __future__ import annotations

import hashlib
import hmac
import os

from concgrade.inside import protocol
from concgrade.inside.protocol import signed_line, verified_record
from concgrade.inside.records import open_writer
from concgrade.run.channel import LINE_LIMIT, OutputTail, RecordChannel


def test_a_signed_line_verifies_only_with_its_key_and_number():
    line = signed_line(b"k" * 32, 3, {"type": "phase"}).decode().strip()
    assert verified_record(b"k" * 32, line, 3) == {"type": "phase"}
    assert verified_record(b"x" * 32, line, 3) is None  # another key
    assert verified_record(b"k" * 32, line, 4) is None  # replayed or out of order
    assert verified_record(b"k" * 32, line, 2) == {"type": "phase"}  # one before it was lost: the gap is counted
    tampered = line.replace("phase", "passd")
    assert verified_record(b"k" * 32, tampered, 3) is None


def test_a_genuine_line_with_absurd_nesting_is_refused_not_raised():
    body = '{"type": "phase", "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
    mac = hmac.new(b"k" * 32, f"0 {body}".encode(), hashlib.sha256).hexdigest()
    assert verified_record(b"k" * 32, f"0 {mac} {body}", 0) is None


def test_records_from_the_plugin_arrive_and_forged_lines_are_counted():
    seen = []
    channel = RecordChannel(seen.append)
    # What the boot does in the child: the key arrives on the boot's pipe, records go through the writer.
    key, _ = protocol.read_handover(handover_fd(protocol.handover(channel.key, protocol.BootConfig(shim=""))))
    write_fd = os.dup(channel.child.records_write)
    channel.start()
    write = open_writer(write_fd, key)
    write({"type": "session_start"})
    os.write(write_fd, b'{"type": "phase", "outcome": "passed"}\n')  # what code under test could write
    os.write(write_fd, b"0 " + b"0" * 64 + b' {"type": "phase"}\n')
    write({"type": "session_finish", "big": "x" * 200_000})  # larger than the pipe's buffer
    os.close(write_fd)
    state = channel.finish(timeout=10)
    assert [r["type"] for r in state.records] == ["session_start", "session_finish"]
    assert seen == state.records
    assert len(state.forged) == 2 and state.lost == 0


def handover_fd(data: bytes) -> int:
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


def test_the_writer_keeps_its_key_descriptor_and_count_out_of_reach_of_attributes():
    read_end, write_end = os.pipe()
    write = open_writer(write_end, b"s" * 32)
    reachable = [getattr(write, name, None) for name in dir(write)]
    assert all(value != b"s" * 32 and value != write_end for value in reachable)
    assert not hasattr(write, "__self__")  # a plain function, not a method of some object
    os.close(read_end)
    os.close(write_end)


def test_a_line_longer_than_any_record_is_thrown_away_as_it_comes():
    channel = RecordChannel()
    write_fd = os.dup(channel.child.records_write)
    channel.start()
    block = b"x" * (1 << 20)
    for _ in range(LINE_LIMIT // len(block) + 3):  # no newline: a reader keeping it all would grow without end
        os.write(write_fd, block)
    os.write(write_fd, b"\n")
    os.write(write_fd, signed_line(channel.key, 0, {"type": "session_start"}))
    os.close(write_fd)
    state = channel.finish(timeout=10)
    assert state.oversized == 1 and [r["type"] for r in state.records] == ["session_start"]
    assert len(channel._pending) == 0


def test_an_output_tail_keeps_the_end_and_counts_everything():
    read_end, write_end = os.pipe()
    tail = OutputTail(read_end, limit=10, name="test-tail")
    tail.reader.start()
    for _ in range(100):
        os.write(write_end, b"0123456789")
    os.write(write_end, b"END")
    os.close(write_end)
    tail.reader.stop(timeout=10)
    assert tail.total == 1003
    assert tail.text().endswith("3456789END") and "first 993 bytes cut" in tail.text()


def test_a_record_with_a_lone_surrogate_arrives_as_valid_text():
    line = signed_line(b"k" * 32, 0, {"type": "phase", "longrepr": "bad \udcff text"}).decode().strip()
    record = verified_record(b"k" * 32, line, 0)
    assert record is not None and record["longrepr"] == "bad \ufffd\ufffd\ufffd text"
    assert record["longrepr"].encode("utf-8")
