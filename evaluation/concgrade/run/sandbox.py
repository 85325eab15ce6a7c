"""The isolation layers of a grade, detected once: PID namespace, cgroups, watchdogs, resource limits.

Each layer is used where this machine allows it and recorded either way (`IsolationReport`), so a
report says what protected the grade. `CONCGRADE_ISOLATION_DISABLE` (comma-separated layer or tool
names: pid_namespace, unshare, bwrap, cgroup) turns layers off, to test the fallbacks or to step
around a layer that misbehaves on some machine.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from concgrade.run.cgroups import CgroupSupport, detect_cgroups

DISABLE_VARIABLE = "CONCGRADE_ISOLATION_DISABLE"
# Modules the boot imports before the implementation folders are on the path (plus installed pytest plugins).
TRUSTED_MODULES = ("pytest", "_pytest.runner", "_pytest.reports", "_pytest.python", "pluggy", "concgrade.inside.plugin")
OPEN_FILES = 4096
# The first process of a PID namespace ignores every signal it has no handler for (SIGXCPU, SIGTERM, ...)
# and util-linux 2.38's unshare reports a SIGKILLed child as status 1: a shell in between keeps pytest an
# ordinary process, and reports its death by signal N as 128 + N, as bubblewrap does.
NAMESPACE_INIT = ("/bin/sh", "-c", '"$@"; exit $?', "concgrade-init")


@dataclass(frozen=True)
class RunLimits:
    """The resolved limits of every run of a grade (bytes, counts and seconds)."""

    memory_bytes: int
    max_tasks: int  # processes plus threads of one run
    cpu_seconds: int  # per process
    file_size_bytes: int
    output_bytes: int  # everything a run writes to stdout/stderr plus what pytest captured from its tests


@dataclass(frozen=True)
class Layer:
    name: str
    active: bool
    mechanism: str
    detail: str = ""


@dataclass(frozen=True)
class IsolationReport:
    layers: tuple[Layer, ...]
    limits: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "layers": [asdict(layer) for layer in self.layers],
            "active": [layer.name for layer in self.layers if layer.active],
            "unavailable": {layer.name: layer.detail for layer in self.layers if not layer.active},
            "limits": dict(self.limits),
        }


@dataclass(frozen=True)
class Sandbox:
    """How every run of this grade is started and held in: built once by `prepare_sandbox`."""

    report: IsolationReport
    limits: RunLimits
    wrapper: tuple[str, ...]  # the command prefix that puts the run in its own PID namespace, or ()
    cgroups: CgroupSupport
    watch_memory: bool  # no cgroup holds the memory limit: a watchdog sums the tree's memory
    watch_tasks: bool  # no cgroup holds the task limit: a watchdog counts the tree's threads
    rlimits: dict[str, tuple[int, int]]
    preload: tuple[str, ...]


def disabled_layers(environ: dict[str, str] | None = None) -> set[str]:
    value = (environ if environ is not None else os.environ).get(DISABLE_VARIABLE, "")
    return {item.strip() for item in value.split(",") if item.strip()}


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def pid_namespace_candidates(root: bool, disabled: set[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Ways to start a process in a new PID namespace, best first (pure: which tools exist is checked later)."""
    if "pid_namespace" in disabled:
        return []
    candidates: list[tuple[str, tuple[str, ...]]] = []
    if "unshare" not in disabled:
        if root:
            candidates.append(("unshare", ("unshare", "--pid", "--fork", "--kill-child", *NAMESPACE_INIT)))
        # Unprivileged: a user namespace, where the kernel allows one, gives the right to a PID namespace.
        user = ("unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child", *NAMESPACE_INIT)
        candidates.append(("unshare --user", user))
    if "bwrap" not in disabled:
        candidates.append(("bwrap", ("bwrap", "--dev-bind", "/", "/", "--unshare-pid", "--die-with-parent", "--")))
    return candidates


def probe_wrapper(prefix: tuple[str, ...]) -> str:
    """Empty if `prefix true` works here, else why not."""
    if shutil.which(prefix[0]) is None:
        return f"{prefix[0]} is not installed"
    try:
        done = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{prefix[0]} failed: {exc}"
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"{' '.join(prefix[:2])} failed: {message[-1] if message else f'exit {done.returncode}'}"
    return ""


def choose_pid_namespace(disabled: set[str]) -> tuple[tuple[str, ...], Layer]:
    tried = []
    for mechanism, prefix in pid_namespace_candidates(is_root(), disabled):
        problem = probe_wrapper(prefix)
        if not problem:
            return prefix, Layer("pid_namespace", True, mechanism, "every process of a run ends with it")
        tried.append(problem)
    why = "; ".join(tried) or f"disabled by {DISABLE_VARIABLE}"
    return (), Layer("pid_namespace", False, "none", f"{why}: leftover processes are found by marker and killed")


def resource_limits(limits: RunLimits, root: bool, own_tasks: int) -> dict[str, tuple[int, int]]:
    """The rlimits the boot sets. Not RLIMIT_AS: thread stacks are address space, and it breaks threaded code."""
    rlimits = {
        "RLIMIT_CORE": (0, 0),
        "RLIMIT_CPU": (limits.cpu_seconds, limits.cpu_seconds + 5),
        # Python ignores SIGXFSZ, so a write past this fails with OSError (EFBIG) in the test that did it.
        "RLIMIT_FSIZE": (limits.file_size_bytes, limits.file_size_bytes),
        "RLIMIT_NOFILE": (OPEN_FILES, OPEN_FILES),
    }
    if not root:
        # Counted per user, not per run, and ignored for root: the user's own processes get headroom.
        rlimits["RLIMIT_NPROC"] = (own_tasks + limits.max_tasks, own_tasks + limits.max_tasks)
    return rlimits


def count_own_tasks() -> int:
    """Threads of every process of this user (what RLIMIT_NPROC counts)."""
    uid, total = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == uid:
                total += len(os.listdir(f"/proc/{entry}/task"))
        except OSError:
            pass
    return total


def pytest_builtin_plugins() -> tuple[str, ...]:
    """pytest's own plugin modules, which it imports at startup anyway.

    Read from `_pytest/config/__init__.py` without importing it: the import costs a tenth of a second on the
    grade's critical path, and this process never runs pytest itself.
    """
    names = _default_plugins_from_source()
    if names is None:
        from _pytest.config import default_plugins

        names = tuple(default_plugins)
    return tuple(f"_pytest.{name}" for name in names)


def _default_plugins_from_source() -> tuple[str, ...] | None:
    """`default_plugins` of pytest's config module, from its source (None when its shape is not understood)."""
    spec = importlib.util.find_spec("_pytest")
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(next(iter(spec.submodule_search_locations))) / "config" / "__init__.py"
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None
    tuples: dict[str, tuple[str, ...]] = {}

    def value(node: ast.expr) -> tuple[str, ...]:
        if isinstance(node, ast.Name):
            return tuples[node.id]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return value(node.left) + value(node.right)
        if isinstance(node, ast.Tuple):
            found: list[str] = []
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    found += value(element.value)
                elif isinstance(element, ast.Constant) and isinstance(element.value, str):
                    found.append(element.value)
                else:
                    raise ValueError(element)
            return tuple(found)
        raise ValueError(node)

    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target = statement.targets[0]
            if isinstance(target, ast.Name) and target.id in ("essential_plugins", "default_plugins"):
                try:
                    tuples[target.id] = value(statement.value)
                except (KeyError, ValueError):
                    return None
    return tuples.get("default_plugins")


def installed_pytest_plugins() -> tuple[str, ...]:
    """The modules of installed pytest plugins (entry points), imported by the boot from trusted folders."""
    from importlib.metadata import entry_points

    try:
        points = entry_points(group="pytest11")
    except Exception:  # noqa: BLE001 - a broken distribution must not stop a grade
        return ()
    return tuple(sorted({point.value.split(":")[0] for point in points if point.name != "concgrade"}))


def prepare_sandbox(limits: RunLimits, environ: dict[str, str] | None = None) -> Sandbox:
    """Detect the layers this machine offers and decide how every run of the grade is held in."""
    disabled = disabled_layers(environ)
    root = is_root()
    wrapper, pid_layer = choose_pid_namespace(disabled)
    if "cgroup" in disabled:
        cgroups = CgroupSupport({}, {name: f"disabled by {DISABLE_VARIABLE}" for name in ("memory", "pids")})
    else:
        cgroups = detect_cgroups()
    rlimits = resource_limits(limits, root, 0 if root else count_own_tasks())
    layers = [
        Layer("scratch_copy", True, "copy", "each process runs in its own copy of the task, HOME and TMPDIR inside it"),
        Layer("process_group", True, "setsid", "each run is its own session and process group"),
        pid_layer,
        memory_layer(cgroups),
        tasks_layer(cgroups, root),
        Layer(
            "resource_limits",
            True,
            "setrlimit",
            "CPU seconds, file size, open files, no core files" + ("" if root else ", processes per user"),
        ),
        Layer("records_channel", True, "pipe+hmac", "records come on an inherited pipe, signed with a per-run key"),
        Layer("trusted_startup", True, "boot", "pytest and its plugins load before the implementation is on the path"),
    ]
    return Sandbox(
        report=IsolationReport(tuple(layers), asdict(limits)),
        limits=limits,
        wrapper=wrapper,
        cgroups=cgroups,
        watch_memory="memory" not in cgroups.homes,
        watch_tasks="pids" not in cgroups.homes,
        rlimits=rlimits,
        preload=(*TRUSTED_MODULES[:-1], *pytest_builtin_plugins(), *installed_pytest_plugins(), TRUSTED_MODULES[-1]),
    )


def memory_layer(cgroups: CgroupSupport) -> Layer:
    if "memory" in cgroups.homes:
        home = cgroups.homes["memory"]
        return Layer("memory_limit", True, f"cgroup v{home.version}", str(home.parent))
    why = cgroups.unavailable.get("memory", "")
    return Layer("memory_limit", True, "watchdog", f"cgroup unavailable ({why}): the tree's memory is polled")


def tasks_layer(cgroups: CgroupSupport, root: bool) -> Layer:
    if "pids" in cgroups.homes:
        home = cgroups.homes["pids"]
        return Layer("task_limit", True, f"cgroup v{home.version}", str(home.parent))
    why = cgroups.unavailable.get("pids", "")
    if root:
        return Layer(
            "task_limit",
            True,
            "watchdog",
            f"cgroup unavailable ({why}) and RLIMIT_NPROC does not bind root: threads are polled, "
            "so a fast thread or fork bomb can overshoot before it is stopped",
        )
    return Layer("task_limit", True, "rlimit+watchdog", f"cgroup unavailable ({why}): RLIMIT_NPROC per user")
