"""The report writers behind one small protocol, the way coverage.py's `report_core` keeps its reporters.

Each writer has a report type and turns the results model into one text; this module writes it to a file
atomically (a temporary file in the same folder, then a rename), so a reader never sees half a report, and
claims an output folder for one grade at a time, so two grades never interleave their reports in one folder.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from concgrade.errors import UsageError
from concgrade.report.html import render_html
from concgrade.report.junit import render_junit
from concgrade.report.markdown import render_summary_md
from concgrade.report.results_json import render_json
from concgrade.report.summary_json import render_summary_json
from concgrade.results.model import Results


@dataclass(frozen=True)
class Writer:
    report_type: str
    file_name: str  # its name in a grade's output folder
    render: Callable[[Results], str]


WRITERS = {
    writer.report_type: writer
    for writer in (
        Writer("json", "results.json", render_json),
        Writer("html", "report.html", render_html),
        Writer("junit", "junit.xml", render_junit),
        Writer("markdown", "summary.md", render_summary_md),
        Writer("summary-json", "summary.json", render_summary_json),
    )
}
# What every grade writes to its output folder; the others on request (--junit-xml, --summary-md, --summary-json).
DEFAULT_REPORTS = ("json", "html")


def write_report(results: Results, report_type: str, path: Path) -> Path:
    """Render one report and write it to `path` atomically; returns the absolute path written."""
    write_atomically(path, WRITERS[report_type].render(results).encode("utf-8"))
    return path.resolve()


def render_reports(results: Results, report_types: tuple[str, ...] = DEFAULT_REPORTS) -> dict[str, bytes]:
    """The reports as file name → bytes, for a grade whose files travel as data (a dataset job)."""
    return {WRITERS[kind].file_name: WRITERS[kind].render(results).encode("utf-8") for kind in report_types}


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
