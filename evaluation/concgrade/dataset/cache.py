"""The grade cache: a finished task grade (its outcome and report files) keyed by everything that decides it.

The key is the content hash of the task folder (and of a candidate), the harness version and the options
that change a grade, so regrading an unchanged dataset costs a hash and a copy per task. Errors are never
cached: they are often transient (a machine under load, a registry down during `--install`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from concgrade.files import cache_dir, hash_value

OUTCOME_FILE = "outcome.json"
FILES_FOLDER = "files"


def default_cache_dir() -> Path:
    """The project's one cache folder (shared with the benchmark timings): $CONCGRADE_CACHE_DIR, else
    $XDG_CACHE_HOME/concgrade, else ~/.cache/concgrade, else a folder in the temp dir."""
    folder = cache_dir()
    if folder is None:
        raise OSError("no writable cache folder (set CONCGRADE_CACHE_DIR or XDG_CACHE_HOME)")
    return folder


@dataclass(frozen=True)
class CachedGrade:
    outcome: dict[str, Any]
    files: dict[str, bytes]


@dataclass(frozen=True)
class GradeCache:
    root: Path

    @staticmethod
    def key(parts: dict[str, Any]) -> str:
        return hash_value(parts)

    def _folder(self, key: str) -> Path:
        return self.root / "grades" / key[:2] / key

    def load(self, key: str) -> CachedGrade | None:
        folder = self._folder(key)
        try:
            outcome = json.loads((folder / OUTCOME_FILE).read_text(encoding="utf-8"))
            files = {
                path.relative_to(folder / FILES_FOLDER).as_posix(): path.read_bytes()
                for path in sorted((folder / FILES_FOLDER).rglob("*"))
                if path.is_file()
            }
        except (OSError, ValueError):
            return None  # absent, or half-written by a process that died: a miss
        return CachedGrade(outcome, files)

    def store(self, key: str, outcome: dict[str, Any], files: dict[str, bytes]) -> None:
        """Write into a fresh folder, then rename it into place, so a reader never sees half an entry."""
        folder = self._folder(key)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=folder.parent))
        try:
            for name, data in files.items():
                path = staging / FILES_FOLDER / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            (staging / FILES_FOLDER).mkdir(exist_ok=True)
            (staging / OUTCOME_FILE).write_text(json.dumps(outcome, default=str), encoding="utf-8")
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(staging, folder)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # a cache that cannot be written only costs time
