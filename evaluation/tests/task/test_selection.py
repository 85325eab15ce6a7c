"""Pairing node ids of implementations that run different files or `-k` selections (pure)."""

from __future__ import annotations

from concgrade.task.selection import canonical_entries, differing_words, replace_word, split_arguments, tokens_by_role
from concgrade.task.toggle import Toggle


def test_files_and_options_are_told_apart():
    assert split_arguments(["tests/a.py", "-k", "fast and not slow", "-x", "tests/b.py::t"]) == (
        ["tests/a.py", "tests/b.py::t"],
        ["-k", "fast and not slow", "-x"],
    )


def test_the_differing_part_of_two_paths_is_widened_to_whole_words():
    assert differing_words("tests/test_sync.py", "tests/test_async.py") == ("sync", "async")
    assert differing_words("tests/before/test_x.py", "tests/after/test_x.py") == ("before", "after")


def test_a_word_is_replaced_only_where_it_stands_as_a_word():
    assert (
        replace_word("tests/test_before.py::TestBefore::test_x", "before") == "tests/test_{impl}.py::Test{impl}::test_x"
    )
    assert replace_word("tests/test_x.py::test_beforehand", "before") == "tests/test_x.py::test_beforehand"


def test_entries_written_with_either_implementations_names_pair_up():
    toggle = Toggle(kind="selection", selection={"before": ["tests/test_before.py"], "after": ["tests/test_after.py"]})
    assert tokens_by_role(toggle) == {"before": ["before"], "after": ["after"]}
    assert canonical_entries(["tests/test_after.py::test_x", "tests/test_before.py::test_x"], toggle) == [
        "tests/test_{impl}.py::test_x"
    ]
