"""The isolation layers of a grade, detected once: mount and PID namespaces, user, cgroups, limits, audit hook.

Each layer is used where this machine allows it and recorded either way (`IsolationReport`), so a
report says what protected the grade. `CONCGRADE_ISOLATION_DISABLE` (comma-separated layer or tool
names: pid_namespace, mount_namespace, unprivileged_user, unshare, bwrap, cgroup, audit_hook) turns layers
off, to test the fallbacks or to step around a layer that misbehaves on some machine.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import secrets
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from concgrade.run.cgroups import CgroupSupport, detect_cgroups
from concgrade.run.mounts import (
    MountPlan,
    blocking_ancestors,
    bwrap_arguments,
    interpreter_folders,
    unreadable_by_others,
)

DISABLE_VARIABLE = "CONCGRADE_ISOLATION_DISABLE"
# Modules the boot imports before the implementation folders are on the path (plus installed pytest plugins).
TRUSTED_MODULES = ("pytest", "_pytest.runner", "_pytest.reports", "_pytest.python", "pluggy", "concgrade.inside.plugin")
OPEN_FILES = 4096
# The first process of a PID namespace ignores every signal it has no handler for (SIGXCPU, SIGTERM, ...)
# and util-linux 2.38's unshare reports a SIGKILLed child as status 1: a shell in between keeps pytest an
# ordinary process, and reports its death by signal N as 128 + N, as bubblewrap does.
NAMESPACE_INIT = ("/bin/sh", "-c", '"$@"; exit $?', "init")
# Joins the run's cgroups before anything else starts (from outside every namespace, as the grader), then runs
# the rest: `sh -c JOIN_CGROUPS join PROCS... -- COMMAND...`.
JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1" 2>/dev/null; shift; done; shift; exec "$@"'
SETPRIV = "setpriv"
# What a Python takes for its environment: its prefix (a virtualenv, or the installation) and the pytest it imports.
ENVIRONMENT_SNIPPET = (
    "import sys, importlib.util as u; s = u.find_spec('pytest'); print(sys.prefix); print(s.origin if s else '')"
)
# Users the code under test runs as when the grader is root: a fresh one per process, no account behind it.
RUN_UID_FIRST, RUN_UID_COUNT = 1_500_000_000, 500_000_000


@dataclass(frozen=True)
class RunLimits:
    """The resolved limits of every run of a grade (bytes, counts and seconds)."""

    memory_bytes: int
    max_tasks: int  # processes plus threads of one run
    cpu_seconds: int  # per process
    file_size_bytes: int
    output_bytes: int  # everything a run writes to stdout/stderr plus what pytest captured from its tests
    disk_bytes: int = 512 * 2**20  # the run's private temporary folder, and what it adds to its scratch copy


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
    wrapper: tuple[str, ...]  # the command prefix that puts the run in its own PID namespace (unshare), or ()
    cgroups: CgroupSupport
    watch_memory: bool  # no cgroup holds the memory limit: a watchdog sums the tree's memory
    watch_tasks: bool  # no cgroup holds the task limit: a watchdog counts the tree's threads
    rlimits: dict[str, tuple[int, int]]
    preload: tuple[str, ...]
    mounts: MountPlan | None = None  # bubblewrap's read-only machine (PID namespace included), or None
    run_as_user: bool = False  # the grader is root: each process runs as a fresh unprivileged user
    audit_hook: bool = True

    @property
    def namespaced(self) -> bool:
        """Every process of a run lives in a PID namespace of its own (and ends with it)."""
        return bool(self.wrapper) or self.mounts is not None

    @property
    def private_tmp(self) -> bool:
        return self.mounts is not None

    def command(
        self, inner: list[str], scratch: Path, shim: Path, cwd: Path, cgroup_procs: list[str], uid: int | None
    ) -> list[str]:
        """The whole command line of a run's first process: cgroups joined, namespaces, user, then `inner`."""
        prefix: list[str] = ["/bin/sh", "-c", JOIN_CGROUPS, "join", *cgroup_procs, "--"] if cgroup_procs else []
        if self.mounts is not None:
            plan = MountPlan(
                scratch=scratch,
                read_only=(shim,),
                needed=self.mounts.needed,
                hidden=self.mounts.hidden,
                tmp_bytes=self.limits.disk_bytes,
                cwd=cwd,
                user_namespace=self.mounts.user_namespace,
            )
            prefix += bwrap_arguments(plan)
        else:
            prefix += list(self.wrapper)
        if uid is not None:
            prefix += setpriv_arguments(uid)
        return [*prefix, *inner]

    def run_uid(self) -> int | None:
        """A fresh user for one process of a run (None: the run keeps the grader's user)."""
        return RUN_UID_FIRST + secrets.randbelow(RUN_UID_COUNT) if self.run_as_user else None


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
    if "bwrap" not in disabled:  # a PID namespace alone, where the read-only layout could not be had
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


def choose_pid_namespace(disabled: set[str], tried: list[str] | None = None) -> tuple[tuple[str, ...], Layer]:
    tried = list(tried or [])
    for mechanism, prefix in pid_namespace_candidates(is_root(), disabled):
        problem = probe_wrapper(prefix)
        if not problem:
            return prefix, Layer("pid_namespace", True, mechanism, "every process of a run ends with it")
        tried.append(problem)
    why = "; ".join(tried) or f"disabled by {DISABLE_VARIABLE}"
    return (), Layer("pid_namespace", False, "none", f"{why}: leftover processes are found by marker and killed")


def needed_folders(interpreter: str | None = None) -> tuple[Path, ...]:
    """What every run reads outside its scratch folder: the interpreters and the folders on their path."""
    prefixes = [sys.prefix, sys.base_prefix, sys.exec_prefix]
    entries = [entry for entry in sys.path if entry and os.path.isabs(entry)] + site.getsitepackages()
    found = interpreter_folders(sys.executable, prefixes, entries)
    if interpreter:
        found += interpreter_folders(interpreter, [], [])
    return tuple(dict.fromkeys(found))


def hidden_folders(needed: tuple[Path, ...], run_as_user: bool) -> tuple[Path, ...]:
    """The grader's home, and the folders a fresh user could not pass through on the way to what it needs."""
    hidden = [Path(os.path.expanduser("~")).resolve()]
    if run_as_user:
        hidden += blocking_ancestors(needed)
    return tuple(dict.fromkeys(folder for folder in hidden if folder != Path("/")))


def choose_mounts(
    disabled: set[str], run_as_user: bool, interpreter: str | None
) -> tuple[MountPlan | None, Layer, str]:
    """bubblewrap with the read-only layout (it brings its PID namespace), if it works on this machine; and the
    Python environment that the grader's interpreter saw in it."""
    if {"mount_namespace", "bwrap", "pid_namespace"} & disabled:
        return None, Layer("mount_namespace", False, "none", f"disabled by {DISABLE_VARIABLE}"), ""
    if shutil.which("bwrap") is None:
        return None, Layer("mount_namespace", False, "none", "bubblewrap (bwrap) is not installed"), ""
    needed = needed_folders(interpreter)
    plan = MountPlan(
        scratch=Path("/"),  # replaced per run
        needed=needed,
        hidden=hidden_folders(needed, run_as_user),
        user_namespace=not is_root(),
    )
    problem, seen = probe_mounts(plan, run_as_user)
    if problem:
        return None, Layer("mount_namespace", False, "none", problem), ""
    detail = "the machine is read-only but for the run's scratch folder; private /tmp and /dev/shm; home hidden"
    return plan, Layer("mount_namespace", True, "bwrap", detail), seen


@contextmanager
def probe_layout(plan: MountPlan) -> Iterator[list[str]]:
    """The bubblewrap prefix of `plan` around an empty scratch folder of its own, removed afterwards."""
    scratch = Path(tempfile.mkdtemp())
    try:
        os.chmod(scratch, 0o711)
        shim = scratch / "lib"
        shim.mkdir()
        yield bwrap_arguments(
            MountPlan(scratch, (shim,), plan.needed, plan.hidden, 1 << 20, scratch, plan.user_namespace)
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def probe_mounts(plan: MountPlan, run_as_user: bool) -> tuple[str, str]:
    """Run Python in the layout (as a fresh user, if asked): why bubblewrap cannot ("" if it can), and the
    Python environment the run saw there (ENVIRONMENT_SNIPPET's lines)."""
    try:
        with probe_layout(plan) as prefix:
            command = prefix + (setpriv_arguments(RUN_UID_FIRST) if run_as_user else [])
            done = run_environment_snippet(command, sys.executable)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap failed: {exc}", ""
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bwrap failed: {message[-1] if message else f'exit {done.returncode}'}", ""
    return "", done.stdout.decode("utf-8", "replace")


def setpriv_arguments(uid: int) -> list[str]:
    """Run the rest of the command as user and group `uid`, with no capabilities and no way to gain any."""
    return [
        SETPRIV,
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
    ]


def run_environment_snippet(prefix: list[str], interpreter: str) -> subprocess.CompletedProcess[bytes]:
    """`interpreter` behind `prefix` printing ENVIRONMENT_SNIPPET's lines."""
    return subprocess.run(
        [*prefix, interpreter, "-c", ENVIRONMENT_SNIPPET], capture_output=True, timeout=20, stdin=subprocess.DEVNULL
    )


def environment_seen(prefix: list[str], interpreter: str) -> str:
    """What `interpreter` started behind `prefix` takes for its environment ("" if it does not start)."""
    try:
        done = run_environment_snippet(prefix, interpreter)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""


def own_environment() -> str:
    """This interpreter's environment, as ENVIRONMENT_SNIPPET prints it."""
    spec = importlib.util.find_spec("pytest")
    return f"{sys.prefix}\n{spec.origin if spec is not None else ''}\n"


def user_sees_other_environment(mounts: MountPlan | None, interpreter: str | None, seen_in_mounts: str) -> str:
    """Why a fresh user would not run in the grader's Python environment ("" if it does).

    A virtualenv in a folder only its owner may read (`mktemp -d`, a 0700 home) is invisible to another user:
    its Python then starts as the base installation, with other packages (another pytest), and would grade the
    task in an environment nobody asked for.
    """
    checks = [(sys.executable, own_environment())]
    if interpreter and interpreter != sys.executable:
        checks.append((interpreter, environment_seen([], interpreter)))
    for executable, expected in checks:
        if not expected:
            continue  # an interpreter that does not start is the run's to report
        if executable == sys.executable and mounts is not None:
            seen = seen_in_mounts
        elif mounts is not None:
            with probe_layout(mounts) as prefix:
                seen = environment_seen(prefix + setpriv_arguments(RUN_UID_FIRST), executable)
        else:
            seen = environment_seen(setpriv_arguments(RUN_UID_FIRST), executable)
        if seen != expected:
            closed = unreadable_by_others(interpreter_folders(executable, [], []))
            where = f" ({', '.join(str(p) for p in closed)} may be read by its owner only)" if closed else ""
            return f"another user does not see the Python environment of {executable}{where}"
    return ""


def choose_run_user(disabled: set[str]) -> tuple[bool, Layer]:
    if not is_root():
        return False, Layer("unprivileged_user", True, "grader", "the grader is not root: runs keep its user")
    if "unprivileged_user" in disabled:
        return False, Layer("unprivileged_user", False, "none", f"disabled by {DISABLE_VARIABLE}")
    if shutil.which(SETPRIV) is None:
        return False, Layer("unprivileged_user", False, "none", "setpriv (util-linux) is not installed")
    detail = "each process runs as a fresh user: no other process's environment, no ptrace, no write to the venv"
    return True, Layer("unprivileged_user", True, "setpriv", detail)


def resource_limits(limits: RunLimits, root: bool, own_tasks: int) -> dict[str, tuple[int, int]]:
    """The rlimits the boot sets. Not RLIMIT_AS: thread stacks are address space, and it breaks threaded code.

    `own_tasks` is what the run's user already has running: 0 for a fresh user of its own.
    """
    rlimits = {
        "RLIMIT_CORE": (0, 0),
        "RLIMIT_CPU": (limits.cpu_seconds, limits.cpu_seconds + 5),
        # Python ignores SIGXFSZ, so a write past this fails with OSError (EFBIG) in the test that did it.
        "RLIMIT_FSIZE": (limits.file_size_bytes, limits.file_size_bytes),
        "RLIMIT_NOFILE": (OPEN_FILES, OPEN_FILES),
    }
    if not root:
        # Counted per user, not per run, and ignored for root: the user's own processes get headroom (none are
        # needed for a fresh user of the run's own).
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


def prepare_sandbox(
    limits: RunLimits, environ: dict[str, str] | None = None, interpreter: str | None = None
) -> Sandbox:
    """Detect the layers this machine offers and decide how every run of the grade is held in."""
    disabled = disabled_layers(environ)
    root = is_root()
    run_as_user, user_layer = choose_run_user(disabled)
    mounts, mount_layer, seen_in_mounts = choose_mounts(disabled, run_as_user, interpreter)
    if mounts is not None:
        wrapper: tuple[str, ...] = ()
        pid_layer = Layer("pid_namespace", True, "bwrap", "every process of a run ends with it")
    else:
        wrapper, pid_layer = choose_pid_namespace(disabled)
    if run_as_user and mounts is None and blocking_ancestors(needed_folders(interpreter)):
        run_as_user = False
        blocked = ", ".join(str(p) for p in blocking_ancestors(needed_folders(interpreter)))
        user_layer = Layer(
            "unprivileged_user",
            False,
            "none",
            f"the interpreter lies under {blocked}, which "
            "another user cannot traverse, and there is no mount namespace to show it",
        )
    elif run_as_user:
        other = user_sees_other_environment(mounts, interpreter, seen_in_mounts)
        if other:
            run_as_user = False
            user_layer = Layer("unprivileged_user", False, "none", f"{other}: runs keep the grader's user")
    if "cgroup" in disabled:
        cgroups = CgroupSupport({}, {name: f"disabled by {DISABLE_VARIABLE}" for name in ("memory", "pids")})
    else:
        cgroups = detect_cgroups()
    own_tasks = 0 if root else count_own_tasks()
    rlimits = resource_limits(limits, root and not run_as_user, own_tasks)
    audit_hook = "audit_hook" not in disabled
    layers = [
        Layer("scratch_copy", True, "copy", "each process runs in its own copy of the task, with a private HOME"),
        Layer("process_group", True, "setsid", "each run is its own session and process group"),
        pid_layer,
        mount_layer,
        tmp_layer(mounts, limits),
        user_layer,
        memory_layer(cgroups),
        tasks_layer(cgroups, root and not run_as_user),
        Layer(
            "resource_limits",
            True,
            "setrlimit",
            "CPU seconds, file size, open files, no core files"
            + ("" if root and not run_as_user else ", processes of the run's user"),
        ),
        Layer("records_channel", True, "pipe+hmac", "records come on an inherited pipe, signed with a per-run key"),
        Layer("trusted_startup", True, "boot", "pytest and its plugins load before the implementation is on the path"),
        Layer(
            "audit_hook",
            audit_hook,
            "PEP 578" if audit_hook else "none",
            "the implementation's frames may not introspect, trace, use ctypes, compile code or write outside the run"
            if audit_hook
            else f"disabled by {DISABLE_VARIABLE}",
        ),
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
        mounts=mounts,
        run_as_user=run_as_user,
        audit_hook=audit_hook,
    )


def tmp_layer(mounts: MountPlan | None, limits: RunLimits) -> Layer:
    size = f"{limits.disk_bytes / 2**20:g} MiB"
    if mounts is not None:
        return Layer("private_tmp", True, "tmpfs", f"/tmp and /dev/shm are the run's own, {size} each")
    return Layer(
        "private_tmp",
        False,
        "none",
        f"no mount namespace: TMPDIR is inside the run's home, {size} checked "
        "afterwards; /tmp and /dev/shm are the machine's",
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
