"""The processes of a run as /proc shows them: descendants, marked processes, their memory and threads, and killing them."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    state: str  # "R", "S", "Z" (zombie) ...
    threads: int
    rss_bytes: int
    command: str


def read_process(pid: int) -> ProcessInfo | None:
    """One process from /proc/PID/stat and cmdline; None once it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_bytes().decode("utf-8", "replace")
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    name_end = stat.rfind(")")
    fields = stat[name_end + 2 :].split()
    if len(fields) < 22:
        return None
    command = raw.replace(b"\0", b" ").decode("utf-8", "replace").strip() or stat[stat.find("(") + 1 : name_end]
    return ProcessInfo(
        pid=pid,
        ppid=int(fields[1]),
        state=fields[0],
        threads=int(fields[17]),
        rss_bytes=int(fields[21]) * PAGE_SIZE,
        command=command[:200],
    )


def activity(pid: int) -> tuple[int, bool] | None:
    """CPU ticks used by a process so far, and whether any of its threads is running or runnable now."""
    try:
        tids = os.listdir(PROC / str(pid) / "task")
    except OSError:
        return None
    ticks, running = 0, False
    for tid in tids:
        try:
            stat = (PROC / str(pid) / "task" / tid / "stat").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        ticks += int(fields[11]) + int(fields[12])
        running = running or fields[0] in ("R", "D")
    return ticks, running


def all_pids() -> list[int]:
    try:
        return [int(entry) for entry in os.listdir(PROC) if entry.isdigit()]
    except OSError:
        return []


def snapshot() -> dict[int, ProcessInfo]:
    """Every process this user can see, by pid."""
    processes = {}
    for pid in all_pids():
        info = read_process(pid)
        if info is not None:
            processes[pid] = info
    return processes


def descendants(root: int, processes: dict[int, ProcessInfo]) -> list[ProcessInfo]:
    """The processes below `root` (not root itself), found by parent links."""
    children: dict[int, list[int]] = {}
    for info in processes.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found, queue = [], list(children.get(root, []))
    while queue:
        pid = queue.pop()
        if pid in processes and pid != root:
            found.append(processes[pid])
            queue.extend(children.get(pid, []))
    return found


def has_marker(pid: int, marker: bytes) -> bool:
    """Whether the process's initial environment holds `marker` (a NAME=VALUE pair the run's processes inherit).

    This finds a grandchild that called setsid() and was re-parented away from the run's tree.
    """
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return marker in environ.split(b"\0")


def marked(marker: bytes, processes: dict[int, ProcessInfo]) -> list[ProcessInfo]:
    return [info for pid, info in processes.items() if pid != os.getpid() and has_marker(pid, marker)]


def run_processes(root: int, marker: bytes, extra_pids: Iterable[int] = ()) -> list[ProcessInfo]:
    """Everything that belongs to a run: descendants of its first process, marked processes, and `extra_pids`."""
    processes = snapshot()
    found = {info.pid: info for info in descendants(root, processes)}
    for info in marked(marker, processes):
        found.setdefault(info.pid, info)
    for pid in extra_pids:
        if pid in processes:
            found.setdefault(pid, processes[pid])
    if root in processes:
        found.setdefault(root, processes[root])
    return sorted(found.values(), key=lambda info: info.pid)


def alive(processes: Iterable[ProcessInfo]) -> list[ProcessInfo]:
    """The processes that still run (a zombie is dead, only not yet reaped)."""
    living = []
    for info in processes:
        now = read_process(info.pid)
        if now is not None and now.state != "Z":
            living.append(now)
    return living


# --- what a process's threads are waiting for (for the deadlock check) ---------------------------------------
# Syscall numbers by machine: futex (the waits behind every Python lock, condition, queue, event and join),
# and the sleeps. Other machines get no deadlock check (the slower idle check still applies).
SYSCALLS = {
    "x86_64": {"futex": 202, "futex_waitv": 449, "sleeps": (35, 230)},
    "aarch64": {"futex": 98, "futex_waitv": 449, "sleeps": (101, 115)},
}
FUTEX_WAITS = (0, 9)  # FUTEX_WAIT and FUTEX_WAIT_BITSET, once the private and clock flags are masked off


@dataclass(frozen=True)
class ThreadWait:
    """What one thread is doing: "running", "untimed" (a futex wait without a timeout), "timed", or "other"."""

    tid: int
    kind: str
    ticks: int
    started: int = 0  # clock ticks after boot: with the id, it tells a thread from a later one given the same id


def wait_kind(state: str, syscall: str, table: dict[str, object] | None) -> str:
    """Classify a thread from its state letter and the text of /proc/PID/task/TID/syscall."""
    if state in ("R", "D"):
        return "running"
    if state in ("Z", "X"):
        return "untimed"  # a dead thread waits for nothing that could ever come
    if table is None:
        return "other"
    fields = syscall.split()
    if not fields or not fields[0].lstrip("-").isdigit():
        return "running" if fields[:1] == ["running"] else "other"
    number = int(fields[0])
    if number == table["futex"] and len(fields) > 4:
        operation = int(fields[2], 16) & 0x7F
        if operation in FUTEX_WAITS:
            return "untimed" if int(fields[4], 16) == 0 else "timed"
        return "other"
    if number == table["futex_waitv"] and len(fields) > 4:
        return "untimed" if int(fields[4], 16) == 0 else "timed"
    if number in table["sleeps"]:  # type: ignore[operator]
        return "timed"
    return "other"


def thread_waits(pid: int, machine: str) -> list[ThreadWait] | None:
    """The threads of a process and what each waits for; None once the process is gone."""
    table = SYSCALLS.get(machine)
    base = PROC / str(pid) / "task"
    try:
        tids = os.listdir(base)
    except OSError:
        return None
    found = []
    for tid in tids:
        try:
            stat = (base / tid / "stat").read_bytes().decode("utf-8", "replace")
            syscall = (base / tid / "syscall").read_bytes().decode("utf-8", "replace") if table else ""
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) < 13:
            continue
        started = int(fields[19]) if len(fields) > 19 else 0
        kind = wait_kind(fields[0], syscall, table)
        found.append(ThreadWait(int(tid), kind, int(fields[11]) + int(fields[12]), started))
    return found


def innermost_tid(pid: int, tid: int) -> int | None:
    """A thread's id in its innermost PID namespace (the last of its NSpid): what the run's own /proc calls it."""
    try:
        text = (PROC / str(pid) / "task" / str(tid) / "status").read_bytes().decode("ascii", "replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("NSpid:"):
            fields = line.split()
            return int(fields[-1]) if fields[-1].isdigit() else None
    return tid  # a kernel without NSpid: no PID namespaces to tell apart


def children_tree(pid: int) -> list[int]:
    """Every descendant of a process, from the kernel's children lists (cheaper than reading all of /proc)."""
    found: list[int] = []
    queue = [pid]
    while queue and len(found) < 10_000:
        current = queue.pop()
        try:
            tids = os.listdir(PROC / str(current) / "task")
        except OSError:
            continue
        for tid in tids:
            try:
                text = (PROC / str(current) / "task" / tid / "children").read_text()
            except OSError:
                continue
            for child in text.split():
                if child.isdigit() and int(child) not in found:
                    found.append(int(child))
                    queue.append(int(child))
    return found
