"""Folders as content-addressed archives, for workers that do not share the client's disk (Dask on other machines).

An archive is named by the content hash of the folder it holds (files.hash_tree, the grade cache's own idea of
"unchanged"), so a task graded with many candidates travels to the cluster once, and a worker that unpacks it
checks it got exactly that content before grading it.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from concgrade.errors import ConcgradeError
from concgrade.files import hash_tree, walk_files


@dataclass(frozen=True)
class Archive:
    digest: str  # hash_tree of the folder: what the worker checks after unpacking
    data: bytes  # a gzip tar of exactly the files hash_tree covers

    @property
    def key(self) -> str:
        """Its name on a cluster: the same content is one piece of data there, however many jobs use it."""
        return f"concgrade-archive-{self.digest}"


def pack(folder: Path) -> Archive:
    return Archive(hash_tree(folder), pack_folder(folder))


def unpack(archive: Archive, target: Path) -> Path:
    """The archive's folder at `target`, checked against its digest (a damaged or swapped archive is an error)."""
    unpack_folder(archive.data, target)
    found = hash_tree(target)
    if found != archive.digest:
        raise ConcgradeError(f"the archive unpacked to other content than it was named for ({found[:12]}…)")
    return target


def pack_folder(folder: Path) -> bytes:
    """A gzip tar of the folder's files as hash_tree sees them (no reports/, caches or virtualenvs); symlinks stay."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in walk_files(folder):
            archive.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return buffer.getvalue()


def unpack_folder(data: bytes, target: Path) -> Path:
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():  # refuse paths that would leave the target
            path = (target / member.name).resolve()
            if not path.is_relative_to(target.resolve()):
                raise ConcgradeError(f"archive member outside the task: {member.name}")
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+: also refuses links leaving the target
            archive.extractall(target, filter="data")
        else:  # pragma: no cover - older patch releases
            archive.extractall(target)
    return target
