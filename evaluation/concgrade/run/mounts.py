"""The machine as a run sees it: read-only but for its scratch folder, a private size-limited /tmp, a hidden home.

Built for bubblewrap: `--ro-bind / /` makes every mount read-only, a new /proc shows only the run's PID
namespace (so not the grader's environment or command line), /tmp and /dev/shm are private tmpfs of a fixed
size, the grader's home (and any folder an unprivileged user could not traverse anyway) is hidden under an
empty tmpfs with only what the run needs bound back read-only (the interpreter, its packages), and the
scratch folder is bound writable at its own path, the shim read-only on top of it. Pure: the arguments are
computed from paths and modes; sandbox.py probes whether bubblewrap can use them on this machine.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

BWRAP = "bwrap"
PRIVATE_FOLDERS = (Path("/tmp"), Path("/dev/shm"))


@dataclass(frozen=True)
class MountPlan:
    """What one run binds: its writable scratch folder, what stays read-only on top, what it must reach."""

    scratch: Path  # bound writable (the permissions inside still apply)
    read_only: tuple[Path, ...] = ()  # inside the scratch folder, bound read-only on top (the shim)
    needed: tuple[Path, ...] = ()  # folders the run reads (the interpreter, its packages), re-bound if hidden
    hidden: tuple[Path, ...] = ()  # folders replaced by an empty tmpfs (the grader's home)
    tmp_bytes: int = 512 * 2**20
    cwd: Path | None = None
    user_namespace: bool = False  # an unprivileged grader: bubblewrap needs a user namespace
    extra: tuple[str, ...] = field(default_factory=tuple)


def traversable_by_others(folder: Path) -> bool:
    """Whether a user who is neither the owner nor in the group may pass through `folder`."""
    try:
        return bool(os.stat(folder).st_mode & stat.S_IXOTH)
    except OSError:
        return False


def unreadable_by_others(folders: Iterable[Path]) -> list[Path]:
    """The folders (bound back as they are) that a user who is neither owner nor in the group may not list."""
    found = []
    for folder in folders:
        try:
            mode = os.stat(folder).st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode) and (mode & (stat.S_IROTH | stat.S_IXOTH)) != (stat.S_IROTH | stat.S_IXOTH):
            found.append(folder)
    return found


def blocking_ancestors(paths: Iterable[Path]) -> list[Path]:
    """Folders on the way to `paths` that an unprivileged user cannot traverse (e.g. a root-only /root)."""
    found: list[Path] = []
    for path in paths:
        for ancestor in reversed(path.parents):
            if ancestor != Path("/") and not traversable_by_others(ancestor) and ancestor not in found:
                found.append(ancestor)
                break
    return found


def bwrap_arguments(plan: MountPlan) -> list[str]:
    """The bubblewrap command prefix for one run (ends with `--`)."""
    args = [BWRAP, "--die-with-parent", "--unshare-pid", "--unshare-ipc"]
    if plan.user_namespace:
        args.append("--unshare-user")
    args += ["--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    for folder in PRIVATE_FOLDERS:
        args += ["--perms", "01777", "--size", str(plan.tmp_bytes), "--tmpfs", str(folder)]
    # A folder inside a private one (/tmp) is hidden already.
    hidden = sorted(
        {f for f in plan.hidden if not any(f.is_relative_to(p) for p in PRIVATE_FOLDERS)}, key=lambda p: len(p.parts)
    )
    for folder in hidden:
        if any(folder.is_relative_to(other) and folder != other for other in hidden):
            continue  # already hidden with its parent
        args += ["--perms", "0755", "--tmpfs", str(folder)]
    # What the run needs inside a hidden or private folder (a task's virtualenv in a cache under /tmp) is put back.
    covering = (*PRIVATE_FOLDERS, *hidden)
    for path in dict.fromkeys(plan.needed):
        under = next((folder for folder in covering if path.is_relative_to(folder) and path != folder), None)
        if under is None or not path.exists():
            continue
        args += _folders_between(under, path)
        args += ["--ro-bind", str(path), str(path)]
    for folder in PRIVATE_FOLDERS:
        if plan.scratch.is_relative_to(folder):
            args += _folders_between(folder, plan.scratch)
    under_hidden = next((folder for folder in hidden if plan.scratch.is_relative_to(folder)), None)
    if under_hidden is not None:
        args += _folders_between(under_hidden, plan.scratch)
    args += ["--bind", str(plan.scratch), str(plan.scratch)]
    for path in plan.read_only:
        args += ["--ro-bind", str(path), str(path)]
    if plan.cwd is not None:
        args += ["--chdir", str(plan.cwd)]
    return [*args, *plan.extra, "--"]


def _folders_between(top: Path, path: Path) -> list[str]:
    """`--dir` for each folder strictly between top and path, traversable by the run's user."""
    args: list[str] = []
    for folder in reversed(path.parents):
        if folder.is_relative_to(top) and folder != top:
            args += ["--perms", "0711", "--dir", str(folder)]
    return args


def interpreter_folders(interpreter: str, prefixes: Iterable[str], path_entries: Iterable[str]) -> list[Path]:
    """What a run's Python must read: its installation (a virtualenv and the Python it was made from) and its path."""
    folders = [Path(p).resolve() for p in prefixes if p]
    executable = Path(interpreter).absolute()
    venv = executable.parent.parent
    folders += [venv, executable.resolve().parent.parent]
    config = venv / "pyvenv.cfg"
    if config.is_file():
        for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                folders.append(Path(value.strip()).resolve().parent)
    folders += [Path(entry).resolve() for entry in path_entries if entry and os.path.isdir(entry)]
    return list(dict.fromkeys(folders))
