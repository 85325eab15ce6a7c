"""Report files written atomically: whole or not at all, readable by others as any file of the user."""

from __future__ import annotations

import os
import stat

import pytest

from concgrade.report.folder import write_atomically


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_report_gets_the_mode_the_umask_gives(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        write_atomically(tmp_path / "reports" / "report.html", b"<html></html>")
    finally:
        os.umask(previous)
    written = tmp_path / "reports" / "report.html"
    assert stat.S_IMODE(written.stat().st_mode) == mode
    assert written.read_bytes() == b"<html></html>"


def test_a_rewrite_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "results.json"
    write_atomically(target, b"old")
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert [path.name for path in tmp_path.iterdir()] == ["results.json"]
