"""The terminal summary shows what runs wrote as text: nothing in it can move the cursor or erase the verdict."""

from __future__ import annotations

from reportfixtures import synthetic_results

from concgrade.report.terminal import format_summary, shown_safely


def test_control_characters_from_a_run_are_shown_as_escapes():
    hostile = "E   RuntimeError: bad \x1b[2K\x1b[1A\rverdict: accepted (exit 0)\x00 \u202egnirts\x9b"
    results = synthetic_results(4, failing_every=1, message=hostile)
    summary = format_summary(results, verbose=True)
    assert not set(summary) & {"\x1b", "\r", "\x00", "\u202e", "\x9b"}
    assert summary.splitlines()[-1] == f"verdict: {results.verdict} (exit {results.exit_code})"
    assert "\\x1b[2K" in summary or "hostile" not in summary


def test_new_lines_tabs_and_other_text_are_kept():
    assert shown_safely("a\tb\nc é ✓ 😀") == "a\tb\nc é ✓ 😀"
    assert shown_safely("\x1b]0;title\x07") == "\\x1b]0;title\\x07"
