"""The grade's own copy of the task, taken once at its start: every process of every run starts from it.

A rerun after a crash is built from this copy, never from the user's folder again, so that what a run wrote
there (where it could) cannot become the code the next process grades.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from concgrade.files import copy_tree
from concgrade.run.scratch import copy_task
from concgrade.task.model import Implementation, Task


@contextmanager
def task_snapshot(task: Task) -> Iterator[Task]:
    """The task as it is now, copied (with a candidate outside it) into a private folder; removed afterwards."""
    folder = Path(tempfile.mkdtemp()).resolve()
    try:
        root = folder / "task"
        copy_task(task.root, root)
        implementations: list[Implementation] = []
        for impl in task.implementations:
            if impl.folder.is_relative_to(task.root):
                moved = root / impl.folder.relative_to(task.root)
            else:
                moved = folder / f"impl-{len(implementations)}"
                copy_tree(impl.folder, moved)
            implementations.append(dataclasses.replace(impl, folder=moved))
        manifest = task.manifest_path
        if manifest is not None and manifest.is_relative_to(task.root):
            manifest = root / manifest.relative_to(task.root)
        yield dataclasses.replace(task, root=root, implementations=tuple(implementations), manifest_path=manifest)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
