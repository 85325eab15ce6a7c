"""Where a grade's files land: written atomically, into an output folder one grade holds at a time.

Light on purpose (no renderer imported), so a command claims its folder before anything runs.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from concgrade.errors import UsageError


def write_atomically(path: Path, data: bytes) -> None:
    """`data` into `path` by a temporary file and a rename: a reader sees the old file or the new one, whole.

    The file gets the mode any file of the user gets (0666 less the umask), not mkstemp's 0600: reports are
    read by others (a host user reading what a container's root wrote, a CI job's artifact upload).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


LOCK_FILE = ".concgrade.lock"  # in the output folder: held (flock) by the grade writing there


@contextmanager
def claim_output_folder(folder: Path) -> Iterator[Path]:
    """The output folder, proved writable and held by this grade alone until the block ends.

    Called before anything runs: a read-only task folder fails at once with a way out, not after every test
    ran; a second grade writing the same folder at the same time is refused instead of mixing two grades'
    files. The lock is an flock, so it goes away with the process however it ends. A folder this call
    created is removed again when the block fails before writing anything into it.
    """
    created = next((path for path in [folder, *folder.parents][::-1] if not path.exists()), None)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".concgrade-probe-")
        os.close(handle)
        os.unlink(probe)
        lock = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UsageError(
            f"{folder}: cannot write the reports there ({exc.strerror or exc}); give another folder with --output DIR"
        ) from None
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(lock, 64, 0).decode("ascii", "replace").strip() or "?"
            created = None  # the other grade's folder
            raise UsageError(
                f"{folder}: another grade (process {holder}) is writing its reports there; "
                "wait for it to finish, or give this one --output DIR"
            ) from None
        os.ftruncate(lock, 0)
        os.pwrite(lock, f"{os.getpid()}\n".encode("ascii"), 0)
        yield folder
    except BaseException:
        if created is not None:
            remove_if_untouched(folder, created)
        raise
    finally:
        os.close(lock)


def remove_if_untouched(folder: Path, created: Path) -> None:
    """Undo `claim_output_folder`'s folders when nothing but its lock was written into them."""
    if [path.name for path in folder.iterdir()] != [LOCK_FILE]:
        return
    (folder / LOCK_FILE).unlink()
    for path in [folder, *folder.parents]:
        path.rmdir()
        if path == created:
            return
