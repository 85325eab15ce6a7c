"""cgroup `memory` and `pids` limits for a run, on cgroup v1 or v2, where the cgroup filesystem lets us write."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from concgrade.run.kill import kill_all

CONTROLLERS = ("memory", "pids")


@dataclass(frozen=True)
class ControllerHome:
    """Where run cgroups of one controller are created: under the harness's own cgroup."""

    controller: str
    version: int  # 1 or 2
    parent: Path


@dataclass(frozen=True)
class CgroupSupport:
    homes: dict[str, ControllerHome]
    unavailable: dict[str, str]  # controller -> why it cannot be used


def own_cgroups(text: str) -> dict[str, str]:
    """Parse /proc/self/cgroup: controller -> path ("" names the v2 unified hierarchy)."""
    paths = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if not controllers:
            paths[""] = path
        for name in controllers.split(","):
            if name:
                paths[name] = path
    return paths


def cgroup_mounts(mountinfo: str) -> dict[str, tuple[int, str, str]]:
    """Parse /proc/self/mountinfo: controller ("" for v2) -> (version, mount point, root of the mount)."""
    mounts: dict[str, tuple[int, str, str]] = {}
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        fstype, options = tail[0], tail[2].split(",")
        root, point = fields[3], fields[4]
        if fstype == "cgroup2":
            mounts.setdefault("", (2, point, root))
        elif fstype == "cgroup":
            for option in options:
                if option in CONTROLLERS:
                    mounts.setdefault(option, (1, point, root))
    return mounts


def home_of(controller: str, mounts: dict[str, tuple[int, str, str]], own: dict[str, str]) -> ControllerHome | None:
    """The folder of our own cgroup for `controller`, preferring a v1 hierarchy that holds it."""
    if controller in mounts and controller in own:
        version, point, root = mounts[controller]
        path = own[controller]
    elif "" in mounts and "" in own:
        version, point, root = mounts[""]
        path = own[""]
    else:
        return None
    relative = os.path.relpath(path, root) if path.startswith(root) else path.lstrip("/")
    parent = Path(point) / ("" if relative == "." else relative)
    return ControllerHome(controller, version, parent)


def detect_cgroups(proc: Path = Path("/proc")) -> CgroupSupport:
    """Which controllers can hold a run: a probe cgroup is created and removed for each."""
    try:
        own = own_cgroups((proc / "self" / "cgroup").read_text())
        mounts = cgroup_mounts((proc / "self" / "mountinfo").read_text())
    except OSError as exc:
        return CgroupSupport({}, {name: f"cannot read /proc: {exc}" for name in CONTROLLERS})
    homes, unavailable = {}, {}
    for controller in CONTROLLERS:
        home = home_of(controller, mounts, own)
        if home is None:
            unavailable[controller] = "no cgroup hierarchy with this controller is mounted"
            continue
        problem = probe_home(home)
        if problem:
            unavailable[controller] = problem
        else:
            homes[controller] = home
    return CgroupSupport(homes, unavailable)


def probe_home(home: ControllerHome) -> str:
    """Empty if a child cgroup with this controller's limit file can be created here, else why not."""
    if home.version == 2:
        try:
            enabled = (home.parent / "cgroup.subtree_control").read_text().split()
        except OSError as exc:
            return f"cgroup v2 at {home.parent} is not readable: {exc.strerror}"
        if home.controller not in enabled:
            return f"cgroup v2 at {home.parent} does not delegate the {home.controller} controller to children"
    probe = home.parent / f"concgrade-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
    except OSError as exc:
        return f"cannot create a cgroup under {home.parent}: {exc.strerror}"
    try:
        if not (probe / limit_file(home)).exists():
            return f"{home.parent} has no {limit_file(home)}"
        return ""
    finally:
        remove_quietly(probe)


def limit_file(home: ControllerHome) -> str:
    if home.controller == "memory":
        return "memory.limit_in_bytes" if home.version == 1 else "memory.max"
    return "pids.max"


def remove_quietly(path: Path) -> bool:
    try:
        path.rmdir()
        return True
    except OSError:
        return False


@dataclass
class RunCgroup:
    """The cgroups of one pytest process: created with their limits, joined by the process, removed after."""

    folders: dict[str, Path] = field(default_factory=dict)
    homes: dict[str, ControllerHome] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)

    @classmethod
    def create(cls, support: CgroupSupport, memory_bytes: int | None, max_tasks: int | None) -> RunCgroup:
        group = cls()
        name = f"concgrade-{uuid.uuid4().hex[:12]}"
        wanted = {"memory": memory_bytes, "pids": max_tasks}
        for controller, home in support.homes.items():
            limit = wanted.get(controller)
            if limit is None:
                continue
            folder = home.parent / name
            try:
                folder.mkdir()
                (folder / limit_file(home)).write_text(str(limit))
                if controller == "memory" and home.version == 1:
                    set_swap_limit(folder, limit)
            except OSError:
                remove_quietly(folder)
                continue
            group.folders[controller], group.homes[controller] = folder, home
            group.limits[controller] = limit
        return group

    def procs_files(self) -> list[str]:
        """The files a process writes its own pid to, to join every cgroup of the run."""
        return [str(folder / "cgroup.procs") for folder in self.folders.values()]

    def pids(self) -> set[int]:
        found: set[int] = set()
        for folder in self.folders.values():
            try:
                found.update(int(line) for line in (folder / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return found

    def breaches(self) -> list[str]:
        """The limits the run ran into, named, with the evidence the kernel kept."""
        found = []
        memory, pids = self.folders.get("memory"), self.folders.get("pids")
        if memory is not None:
            events = read_counters(
                memory / ("memory.oom_control" if self.homes["memory"].version == 1 else "memory.events")
            )
            if events.get("oom_kill", 0) > 0:
                found.append(
                    f"memory: the run reached its limit of {self.limits['memory'] // 2**20} MiB "
                    f"and the kernel killed {events['oom_kill']} process(es) (cgroup memory)"
                )
        if pids is not None:
            events = read_counters(pids / "pids.events")
            if events.get("max", 0) > 0:
                found.append(
                    f"processes/threads: the run reached its limit of {self.limits['pids']} tasks; "
                    f"{events['max']} thread or process creation(s) were refused (cgroup pids)"
                )
        return found

    def kill_and_remove(self, attempts: int = 50) -> None:
        """Kill whatever is still inside, then remove the folders (a folder with a process in it cannot go)."""
        for _ in range(attempts):
            remaining = self.pids()
            if not remaining:
                break
            kill_all(remaining)
            wait_a_little()
        for controller in list(self.folders):
            if remove_quietly(self.folders[controller]):
                del self.folders[controller]


def set_swap_limit(folder: Path, limit: int) -> None:
    """Without this, a v1 memory limit lets the run push its excess to swap instead of being stopped."""
    swap = folder / "memory.memsw.limit_in_bytes"
    if swap.exists():
        try:
            swap.write_text(str(limit))
        except OSError:
            pass


def read_counters(path: Path) -> dict[str, int]:
    """A `name value` per line file (memory.events, pids.events, memory.oom_control)."""
    counters = {}
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if value.strip().isdigit():
                counters[name] = int(value)
    except OSError:
        pass
    return counters


def wait_a_little() -> None:
    """A killed process leaves its cgroup only once the kernel has reaped it: give it a moment."""
    import time

    time.sleep(0.01)
