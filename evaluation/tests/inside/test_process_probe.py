"""Merging the per-process event files: ordering, ends before starts, reaped children, pid reuse (pure)."""

from __future__ import annotations

import sys

from concgrade.inside.process_probe import Event, parse_events, process_figures, process_intervals, split_target


def events(*lines: str) -> list[Event]:
    return parse_events("\n".join(lines))


def test_ends_sort_before_starts_at_equal_times():
    merged = events("S 10 1 m:f", "F 20 1 m:f ok", "S 20 2 m:f", "F 30 2 m:f ok")
    figures = process_figures(merged, "m:f", "f", 0, 100)
    assert (figures["max_active"], figures["calls"], figures["worker_pids"]) == (1, 2, 2)


def test_overlapping_calls_in_different_files_merge_by_time():
    first = events("S 10 1 m:f", "F 40 1 m:f ok")
    second = events("S 20 2 m:f", "F 50 2 m:f err", "S 60 2 m:g")
    figures = process_figures(first + second, "m:f", "f", 0, 100)
    assert (figures["max_active"], figures["calls"], figures["errors"]) == (2, 2, 1)
    assert [active for _, active in figures["timeline"]] == [1, 2, 1, 0]


def test_a_killed_worker_ends_when_its_parent_reaps_it():
    merged = events("B 10 7 ", "B 11 8 ", "E 30 7 ", "R 50 1 8", "B 60 9 ")
    assert sorted(process_intervals(merged)) == [(10, 30), (11, 50), (60, sys.maxsize)]
    figures = process_figures(merged, "m:f", "f", 0, 100)
    assert (figures["max_processes"], figures["processes_started"], figures["processes_alive_at_end"]) == (2, 3, 1)


def test_a_reused_pid_is_two_lives():
    merged = events("B 10 7 ", "E 20 7 ", "B 30 7 ", "R 40 1 7")
    assert process_intervals(merged) == [(10, 20), (30, 40)]
    assert process_figures(merged, "m:f", "f", 0, 100)["max_processes"] == 1


def test_the_window_counts_what_was_already_running():
    merged = events("B 10 7 ", "S 15 7 m:f", "B 50 8 ", "F 70 7 m:f ok", "R 90 1 7", "R 95 1 8")
    figures = process_figures(merged, "m:f", "f", 40, 80)
    assert (figures["max_active"], figures["calls"], figures["max_processes"]) == (1, 0, 2)
    assert figures["processes_started"] == 1


def test_a_line_cut_short_is_dropped():
    assert [e.kind for e in parse_events("S 10 1 m:f\nF 2")] == ["S"]


def test_targets():
    assert split_target("pkg.mod:Class.method") == ("pkg.mod", "Class.method")
    assert split_target("pkg.mod.function") == ("pkg.mod", "function")
