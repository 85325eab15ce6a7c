"""What the run stage hands the grade: each pytest process's records, exit and findings (plain data, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EndedBy = str  # "exit", "faulthandler", "wall_clock", "deadlock", "hung_after_session", "watchdog"


@dataclass
class AttemptOutput:
    """What one pytest process of a run left: records, exit, limits it broke, and how it ended."""

    index: int
    command: list[str]
    node_ids: list[str]  # the tests this process was asked to run (empty: the spec's test files)
    exit_code: int | None
    exit_description: str
    ended_by: EndedBy
    duration: float
    records: list[dict[str, Any]]
    json_report: dict[str, Any] | None
    stdout_tail: str
    stderr_tail: str
    output_bytes: int = 0
    stacks: str = ""
    forged_lines: list[str] = field(default_factory=list)
    dropped_records: int = 0
    lost_records: int = 0  # genuine record numbers that never arrived (a line cut short)
    json_report_problem: str = ""  # why the JSON report could not be used ("missing", "a FIFO", ...)
    limit_breaches: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    # Files of the implementation folders that child interpreters of the run read: (path, sha256).
    child_loads: list[tuple[str, str]] = field(default_factory=list)
    # A second run, alone and with this longer per-test timeout, of a test the default timeout stopped (or None).
    slow_retry: float | None = None

    @property
    def timed_out(self) -> bool:
        return self.ended_by == "wall_clock"


@dataclass
class RunOutput:
    """Everything the pytest processes of one run left behind, read back before their scratch folder is removed.

    A run is one or more processes (attempts): when one dies before its session ends, the tests that
    had not started run again in a new one. What describes the whole run is derived from the attempts.
    """

    name: str
    role: str
    toggle_env: dict[str, str]
    expected_folder: str  # where the implementation should be imported from (inside the scratch copy)
    attempts: list[AttemptOutput]
    expected_hashes: dict[str, str] = field(default_factory=dict)  # file in its folder -> sha256 of the source
    other_folders: list[str] = field(default_factory=list)  # the other implementations' folders in the scratch copy
    task_copy: str = ""  # the scratch copy of the task the run's processes started in
    hook_files: list[str] = field(default_factory=list)  # files a candidate added that would hook into pytest
    repeat: int = 0
    stopped: str = ""  # why the run stopped before running every test (a limit breached again and again)

    @property
    def command(self) -> list[str]:
        return self.attempts[0].command

    @property
    def exit_code(self) -> int | None:
        return self.attempts[-1].exit_code

    @property
    def timed_out(self) -> bool:
        return any(attempt.timed_out for attempt in self.attempts)

    @property
    def duration(self) -> float:
        return sum(attempt.duration for attempt in self.attempts)

    @property
    def records(self) -> list[dict[str, Any]]:
        return [record for attempt in self.attempts for record in attempt.records]

    @property
    def stdout_tail(self) -> str:
        return self.attempts[-1].stdout_tail

    @property
    def stderr_tail(self) -> str:
        return self.attempts[-1].stderr_tail
