"""The scratch folder of one process of a run: the task copy, the shim, a private home, named to say nothing.

A scratch folder (`tempfile.mkdtemp()`, so `/tmp/tmpXXXXXXXX`) holds:
    repo/          the task, with the implementation under test in place (writable by the run)
    lib/           the shim: a copy of the in-process package alone (never the live harness), read-only
    home/          HOME, and TMPDIR where the run has no private /tmp (writable by the run)
    var/           the cross-process probe's event files (writable by the run)
    <random>/      where pytest-json-report writes (writable by the run, named nowhere it can read)
    <files>        the harness's own: the stacks file, the selection of tests (not writable by the run)
When the grader is root and the run has a user of its own, the run's folders are given to that user and the
scratch folder itself can be passed through but not listed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import concgrade.inside
from concgrade.errors import TaskError
from concgrade.files import copy_tree, harness_package, walk_files
from concgrade.inside.protocol import BOOT_SCRIPT, PROBE_FILE, WATCH_CONFIG, ProbeConfig, WatchConfig
from concgrade.run.plan import RunSpec, run_environment
from concgrade.task.model import Task

INSIDE = Path(concgrade.inside.__file__).parent
PACKAGE_INIT = '"""The in-process part of concgrade (a copy, for one graded process)."""\n'
BOOT_TEXT = (
    '"""Start a graded process (see concgrade/inside/boot.py)."""\n'
    "if __name__ == '__main__':\n"
    "    from concgrade.inside.boot import main\n\n"
    "    main()\n"
)


@dataclass(frozen=True)
class RunPaths:
    """Where everything of one process of a run lives."""

    scratch: Path

    @property
    def task_copy(self) -> Path:
        return self.scratch / "repo"

    @property
    def shim(self) -> Path:
        return self.scratch / "lib"

    @property
    def home(self) -> Path:
        return self.scratch / "home"

    @property
    def events(self) -> Path:
        return self.scratch / "var"

    @property
    def loads(self) -> Path:
        """Where child interpreters of the run write which implementation files they read (filewatch.py)."""
        return self.events / "reads"

    @property
    def boot_script(self) -> Path:
        return self.shim / BOOT_SCRIPT

    def run_folders(self) -> tuple[Path, ...]:
        """The folders the code under test may write."""
        return (self.task_copy, self.home, self.events)


def new_scratch() -> RunPaths:
    return RunPaths(Path(tempfile.mkdtemp()).resolve())


def prepare(
    paths: RunPaths,
    task_root: Path,
    spec: RunSpec,
    uid: int | None,
    probe: ProbeConfig | None = None,
    watch: WatchConfig | None = None,
) -> Path:
    """Fill a scratch folder for one process (anything of an earlier process removed); the report's folder."""
    for child in paths.scratch.iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    copy_task(task_root, paths.task_copy)
    if spec.implementation.name == "candidate" or spec.substitute:
        replace_folder(spec.implementation.folder, paths.task_copy / spec.folder_in_task)
    make_shim(paths.shim, probe, watch)
    (paths.home / "tmp").mkdir(parents=True)
    paths.loads.mkdir(parents=True)
    out = paths.scratch / secrets.token_hex(8)
    out.mkdir(mode=0o700)
    if uid is not None:
        for folder in (*paths.run_folders(), out):
            give_to(folder, uid)
        os.chmod(paths.scratch, 0o711)  # the run passes through to its folders, and cannot list the others
    return out


def give_to(folder: Path, uid: int) -> None:
    """Hand a folder and everything in it to the run's user (and its group of the same number)."""
    os.chown(folder, uid, uid, follow_symlinks=False)
    for base, folders, files in os.walk(folder):
        for name in (*folders, *files):
            os.chown(os.path.join(base, name), uid, uid, follow_symlinks=False)


@dataclass(frozen=True)
class ScratchRun:
    """A prepared scratch folder for one implementation's benchmark processes, and their environment."""

    paths: RunPaths
    env: dict[str, str]
    out: Path

    @property
    def scratch(self) -> Path:
        return self.paths.scratch

    @property
    def task_copy(self) -> Path:
        return self.paths.task_copy


@contextmanager
def scratch_run(task: Task, spec: RunSpec, uid: int | None = None, private_tmp: bool = False) -> Iterator[ScratchRun]:
    """A scratch folder for the benchmark's processes of one implementation; removed afterwards."""
    paths = new_scratch()
    try:
        out = prepare(paths, task.root, spec, uid)
        env = run_environment(dict(os.environ), spec, paths.task_copy, paths.shim, paths.home, private_tmp)
        yield ScratchRun(paths, env, out)
    finally:
        shutil.rmtree(paths.scratch, ignore_errors=True)


def copy_task(source: Path, target: Path) -> None:
    """Copy the task into the scratch folder; a symlink leading outside the task is refused.

    A harness that lives inside the task (this repository's reference task holds concgrade in evaluation/)
    is left out: it is no part of the task, and the shim puts concgrade first on the path anyway. So are
    folders below it that are tasks of their own (examples/): a task is no part of another. Together they
    were half of every run's copy and integrity hashing, on the grade's critical path.
    """
    leave_out = harness_package()
    for path in walk_files(source):  # what is copied: ignored folders (.git, reports/, ...) are not walked
        if path.is_symlink() and not path.is_relative_to(leave_out):
            resolved = path.resolve()
            if not resolved.is_relative_to(source):
                raise TaskError(f"{path}: symlink points outside the task ({resolved})")
    copy_tree(source, target, leave_out=leave_out, nested_tasks=False)


def remove_later(folder: Path) -> None:
    """Remove a finished run's scratch folder beside the grade rather than before its next step: a few hundred
    unlinks took a tenth of a second from the end of every grade. The thread is not a daemon, so the
    interpreter waits for it at exit and nothing is left behind."""
    threading.Thread(
        target=shutil.rmtree, args=(folder,), kwargs={"ignore_errors": True}, name="concgrade-cleanup"
    ).start()


def replace_folder(source: Path, target: Path) -> None:
    """Put `source` where `target` is; an absent source (a greenfield before) leaves an empty folder."""
    shutil.rmtree(target, ignore_errors=True)
    if source.is_dir():
        copy_tree(source, target)
    else:
        target.mkdir(parents=True)


def make_shim(folder: Path, probe: ProbeConfig | None = None, watch: WatchConfig | None = None) -> Path:
    """A copy of the in-process package (and only it), its start-up hook and the boot script, for one process.

    Never a link to the live harness: what a run writes here (where it can) is gone with its scratch folder.
    The hook (`sitecustomize`) switches the cross-process probe on in every interpreter of the run when the
    probe's file is beside it, starts the file watch in child interpreters when the watch's file is, and otherwise
    hands over to the environment's own sitecustomize.
    """
    package = folder / "concgrade"
    inside = package / "inside"
    inside.mkdir(parents=True)
    (package / "__init__.py").write_text(PACKAGE_INIT, encoding="utf-8")
    for source in INSIDE.glob("*.py"):
        shutil.copyfile(source, inside / source.name)
    (inside / "startup").mkdir()
    shutil.copyfile(INSIDE / "startup" / "sitecustomize.py", inside / "startup" / "sitecustomize.py")
    shutil.copyfile(INSIDE / "startup" / "sitecustomize.py", folder / "sitecustomize.py")
    (folder / BOOT_SCRIPT).write_text(BOOT_TEXT, encoding="utf-8")
    if probe is not None:
        (folder / PROBE_FILE).write_text(probe.to_env(), encoding="utf-8")
    if watch is not None:
        (folder / WATCH_CONFIG).write_text(watch.to_json(), encoding="utf-8")
    return folder
