"""The scratch copy of a task a run starts from: the task (the implementation in place), the shim, a private home."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import concgrade
from concgrade.errors import TaskError
from concgrade.files import copy_tree, harness_package, walk_files
from concgrade.run.plan import RunSpec, run_environment
from concgrade.task.model import Task

BOOT_SCRIPT = "_concgrade_boot.py"


@dataclass(frozen=True)
class ScratchRun:
    """A prepared scratch copy of the task for one implementation: where to run, and with which environment."""

    scratch: Path  # private to the harness: records and results go here, outside the task copy
    task_copy: Path
    env: dict[str, str]


@contextmanager
def scratch_run(task: Task, spec: RunSpec) -> Iterator[ScratchRun]:
    """Copy the task (the candidate in place of after), add the shim and a private home; removed afterwards.

    The benchmark's processes start from here; pytest runs prepare theirs in `run_attempt`, a fresh copy per process.
    """
    scratch = Path(tempfile.mkdtemp(prefix=f"concgrade-{spec.name}-{spec.repeat}-"))
    try:
        task_copy = scratch / "task"
        copy_task(task.root, task_copy)
        if spec.implementation.name == "candidate" or spec.substitute:
            replace_folder(spec.implementation.folder, task_copy / spec.folder_in_task)
        shim = make_shim(scratch / "shim")
        home = scratch / "home"
        (home / "tmp").mkdir(parents=True)
        events = scratch / "probe-events"  # the cross-process probe's event files, when the manifest declares one
        events.mkdir()
        env = run_environment(dict(os.environ), spec, task_copy, shim, home, process_events=events)
        yield ScratchRun(scratch, task_copy, env)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


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
    shutil.rmtree(target, ignore_errors=True)
    copy_tree(source, target)


def make_shim(folder: Path) -> Path:
    """The `concgrade` package, its start-up hook and the boot script, put first on the test process's path.

    The hook (`sitecustomize`) switches the cross-process probe on in every interpreter of the run
    where the run asks for it, and otherwise hands over to the environment's own sitecustomize.
    """
    folder.mkdir()
    package = Path(concgrade.__file__).parent
    (folder / "concgrade").symlink_to(package, target_is_directory=True)
    (folder / "sitecustomize.py").symlink_to(package / "inside" / "startup" / "sitecustomize.py")
    (folder / BOOT_SCRIPT).write_text(
        '"""Start a graded pytest process (see concgrade/inside/boot.py)."""\n'
        "if __name__ == '__main__':\n"
        "    from concgrade.inside.boot import main\n\n"
        "    main()\n",
        encoding="utf-8",
    )
    return folder
