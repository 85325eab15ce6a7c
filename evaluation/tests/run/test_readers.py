"""Reading what a run left: a FIFO, a link, a huge or deeply nested file give a reason, never a hang or an error."""

from __future__ import annotations

import os
import threading

from concgrade.run.readers import read_json, read_text


def test_a_fifo_where_a_report_is_expected_is_refused_at_once(tmp_path):
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    done = threading.Event()
    result = []

    def read() -> None:
        result.append(read_json(fifo))
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(10), "reading a FIFO blocked"
    assert result[0].data is None and "FIFO" in result[0].problem
    assert read_text(fifo) == ""


def test_a_link_is_not_followed(tmp_path):
    target = tmp_path / "real.json"
    target.write_text('{"tests": []}')
    link = tmp_path / "report.json"
    link.symlink_to(target)
    read = read_json(link)
    assert read.data is None and "cannot be opened" in read.problem


def test_deep_nesting_is_refused_before_the_parser_recurses(tmp_path):
    deep = tmp_path / "report.json"
    deep.write_text('{"a": ' + "[" * 200_000 + "]" * 200_000 + "}")
    read = read_json(deep)
    assert read.data is None and "nested deeper" in read.problem
    brackets_in_strings = tmp_path / "strings.json"
    brackets_in_strings.write_text('{"a": "' + "[" * 5000 + '"}')
    assert read_json(brackets_in_strings).data == {"a": "[" * 5000}


def test_a_file_too_large_or_not_json_or_not_an_object_gives_its_reason(tmp_path):
    big = tmp_path / "big.json"
    big.write_text('{"a": "' + "x" * 2000 + '"}')
    assert "larger than" in read_json(big, limit=1000).problem
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert read_json(bad).problem.startswith("not JSON")
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    assert read_json(listed).problem == "not a JSON object (list)"
    assert read_json(tmp_path / "absent.json").problem == "missing"


def test_text_is_cut_at_its_limit_and_says_so(tmp_path):
    stacks = tmp_path / "stacks.txt"
    stacks.write_text("y" * 5000)
    text = read_text(stacks, limit=100)
    assert text.startswith("y" * 100) and text.endswith("[concgrade: stacks cut]") and len(text) < 200


def test_a_lone_surrogate_escape_in_a_report_reads_as_a_replacement_character(tmp_path):
    path = tmp_path / "report.json"
    path.write_text('{"tests": [{"longrepr": "bad \\udcff\\ud800 \\ud83d\\ude00 ok"}], "\\udfff": 1}')
    data = read_json(path).data
    assert data is not None
    assert (
        data["tests"][0]["longrepr"] == "bad \ufffd\ufffd\ufffd\ufffd\ufffd\ufffd \U0001f600 ok"
    )  # a pair is a character
    assert "\ufffd\ufffd\ufffd" in data
    assert str(data).encode("utf-8")  # what a report writes of it encodes
