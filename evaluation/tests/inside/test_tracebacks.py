"""A failure raised at a bytecode with no line number is reported as a failure, not a pytest crash.

On Python 3.11 a signal handler can run at such a bytecode (the jump back of a loop over a `with` block, as in
`concurrent.futures.wait`): pytest-timeout failing a test there crashed pytest (INTERNALERROR), which ended the
session, lost the failure and never ran the later tests. The fixture fails from a trace function at that very
bytecode, the same traceback entry a signal landing there leaves, but every time.
"""

from __future__ import annotations

import dis
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from taskfactory import LINELESS_FAILURE

from concgrade.inside.tracebacks import give_lines, nearest_line, with_lines

TESTS = """
import pytest

@pytest.fixture
def fails_at_teardown():
    yield
    fail_where_no_line_is(spin)

def test_fails_where_no_line_is():
    fail_where_no_line_is(spin)

def test_fails_while_handling_such_a_failure():
    try:
        fail_where_no_line_is(spin)
    except AssertionError:
        raise RuntimeError("while handling it")

def test_teardown_fails_where_no_line_is(fails_at_teardown):
    pass

class Odd(Exception):
    @property
    def exceptions(self):
        raise RuntimeError("an exception group's members cannot be read")

def test_fails_with_an_exception_whose_members_cannot_be_read():
    raise Odd("odd")

def test_runs_after_them():
    pass
"""

FAILS_WHERE_NO_LINE_IS = LINELESS_FAILURE + TESTS


def run_pytest(folder: Path, *plugins: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:concgrade", *plugins, "-p", "no:cacheprovider"]
    command += ["-q", "-rA", "test_lineless.py"]
    environment = {**os.environ, "COLUMNS": "400"}  # the short summary's lines whole
    return subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True, timeout=120)


def test_pytest_reports_each_failure_and_runs_the_later_tests(tmp_path):
    (tmp_path / "test_lineless.py").write_text(FAILS_WHERE_NO_LINE_IS, encoding="utf-8")
    plain = run_pytest(tmp_path)
    if "INTERNALERROR" not in plain.stdout + plain.stderr:
        pytest.skip(f"pytest on Python {sys.version.split()[0]} reports this fixture without the plugin's help")
    assert plain.returncode == 3  # what the plugin fixes: pytest crashed and ran nothing after the first failure

    graded = run_pytest(tmp_path, "-p", "concgrade.inside.plugin")
    output = graded.stdout + graded.stderr
    assert "INTERNALERROR" not in output
    assert graded.returncode == 1, output
    summary = "\n".join(line for line in graded.stdout.splitlines() if line.startswith(("PASSED", "FAILED", "ERROR")))
    assert "FAILED test_lineless.py::test_fails_where_no_line_is - AssertionError: failed at a bytecode" in summary
    assert "FAILED test_lineless.py::test_fails_while_handling_such_a_failure - RuntimeError: while handling" in summary
    assert "ERROR test_lineless.py::test_teardown_fails_where_no_line_is - AssertionError: failed at" in summary
    assert "FAILED test_lineless.py::test_fails_with_an_exception_whose_members_cannot_be_read - " in summary
    assert "PASSED test_lineless.py::test_runs_after_them" in summary
    assert "During handling of the above exception, another exception occurred" in output
    # The entry without a line is shown at the nearest line before it: inside spin's loop.
    with_line = FAILS_WHERE_NO_LINE_IS.splitlines().index("        with lock:") + 1
    assert f"test_lineless.py:{with_line}: in spin\n    with lock:" in output


def entries(tb: types.TracebackType | None) -> list[tuple[types.FrameType, int, int | None]]:
    found = []
    while tb is not None:
        found.append((tb.tb_frame, tb.tb_lasti, tb.tb_lineno))
        tb = tb.tb_next
    return found


def lineless_offset(code: types.CodeType) -> int:
    return next(i.offset for i in dis.get_instructions(code) if i.positions and i.positions.lineno is None)


def lineless_traceback() -> types.TracebackType:
    """This frame twice, the inner entry at one of its bytecodes without a line number."""
    frame = sys._getframe()
    try:
        raise ValueError("its cleanup has bytecodes without a line number")
    except ValueError as exc:
        del exc
    inner = types.TracebackType(None, frame, lineless_offset(frame.f_code), -1)
    return types.TracebackType(inner, frame, frame.f_lasti, frame.f_lineno)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 numbers every traceback entry (-1 at worst)")
def test_only_entries_without_a_line_change():
    tb = lineless_traceback()
    before = entries(tb)
    assert before[1][2] is None
    after = entries(with_lines(tb))
    assert [(frame, lasti) for frame, lasti, _ in after] == [(frame, lasti) for frame, lasti, _ in before]
    assert after[0][2] == before[0][2]
    assert after[1][2] == nearest_line(before[1][0].f_code, before[1][1])
    assert after[1][2] is not None


def test_a_numbered_traceback_is_kept_as_it_is():
    try:
        raise ValueError("numbered")
    except ValueError as exc:
        excinfo = pytest.ExceptionInfo.from_exception(exc) if hasattr(pytest.ExceptionInfo, "from_exception") else None
        tb = exc.__traceback__
    assert with_lines(tb) is tb
    if excinfo is not None:
        assert give_lines(excinfo) is excinfo


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 numbers every traceback entry (-1 at worst)")
def test_a_chained_exception_gets_its_lines_too():
    cause = ValueError("cause")
    cause.__traceback__ = lineless_traceback()
    try:
        raise RuntimeError("outer") from cause
    except RuntimeError:
        excinfo = pytest.ExceptionInfo.from_current()
    repaired = give_lines(excinfo)
    assert repaired.value is excinfo.value
    assert all(line is not None for _, _, line in entries(cause.__traceback__))
    str(repaired.getrepr())  # pytest formats the whole chain
