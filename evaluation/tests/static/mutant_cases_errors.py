"""Cases of the error operators (CM6xx)."""

from __future__ import annotations

from mutant_cases import Case

# A fatal error of its own: pytest gives KeyboardInterrupt a meaning, a plain BaseException subclass has none.
FATAL = """\
class Fatal(BaseException):
    pass
"""

SAFE_CALL = """\
def call_safely(fn):
    try:
        return fn()
    except Exception as exc:
        return f"error: {exc}"
"""

FATAL_GETS_THROUGH = (
    FATAL
    + """

import pytest

import cm601_safe


def test_a_fatal_error_gets_through():
    def fatal():
        raise Fatal()

    with pytest.raises(Fatal):
        cm601_safe.call_safely(fatal)
"""
)

ORDINARY_ERROR_HANDLED = """\
import cm601_safe


def test_an_ordinary_error_becomes_a_message():
    def fail():
        raise ValueError("boom")

    assert cm601_safe.call_safely(fail) == "error: boom"
"""

RUN_ALL = """\
def run_all(jobs):
    results = []
    try:
        for job in jobs:
            results.append(job())
    except BaseException:
        results.clear()
        raise
    return results
"""


def fatal_propagates(module: str, expected: str) -> str:
    return (
        FATAL
        + f"""

import pytest

import {module}


def test_a_fatal_error_propagates():
    def fatal():
        raise Fatal()

    with pytest.raises({expected}):
        {module}.run_all([lambda: 1, fatal])
"""
    )


RESULTS = """\
import MODULE


def test_results_come_back():
    assert MODULE.run_all([lambda: 1, lambda: 2]) == [1, 2]
"""

CANCELLING = """\
def run_all(pool, jobs):
    futures = [pool.submit(job) for job in jobs]
    try:
        return [future.result() for future in futures]
    except BaseException:
        for future in futures:
            future.cancel()
        raise
"""

# A pool whose futures only the test completes, so "not started yet" is certain, not a race.
FAKE_POOL = """\
from concurrent.futures import Future


class Fatal(BaseException):
    pass


class HeldPool:
    def __init__(self):
        self.futures = []

    def submit(self, job):
        future = Future()
        if not self.futures:
            future.set_exception(Fatal())
        self.futures.append(future)
        return future
"""

CANCELS_THE_REST = (
    FAKE_POOL
    + """

import pytest

import cm604_cancel


def test_work_not_started_is_cancelled_after_a_fatal_error():
    pool = HeldPool()
    with pytest.raises(Fatal):
        cm604_cancel.run_all(pool, [print] * 4)
    assert [future.cancelled() for future in pool.futures[1:]] == [True, True, True]
"""
)

FATAL_RAISED = (
    FAKE_POOL
    + """

import pytest

import cm604_cancel


def test_a_fatal_error_propagates():
    with pytest.raises(Fatal):
        cm604_cancel.run_all(HeldPool(), [print] * 4)
"""
)

MESSAGE = """\
def call_safely(fn):
    try:
        return fn()
    except Exception as exc:
        return str(exc)
"""

# str() of an exception with other than one argument is not its first argument.
MESSAGE_OF_KEY_ERROR = """\
import cm605_message


def test_the_message_is_str_of_the_error():
    def fail():
        raise KeyError("user-1")

    assert cm605_message.call_safely(fail) == str(KeyError("user-1"))
"""

MESSAGE_OF_VALUE_ERROR = """\
import MODULE


def test_the_message_is_str_of_the_error():
    def fail():
        raise ValueError("boom")

    assert MODULE.call_safely(fail) == "boom"
"""

MESSAGE_MENTIONED = """\
import cm606_message


def test_the_message_mentions_the_error():
    def fail():
        raise ValueError("boom")

    assert "boom" in cm606_message.call_safely(fail)
"""

CASES = [
    Case(
        "CM601-catch-base-exception",
        "cm601_safe",
        SAFE_CALL,
        SAFE_CALL.replace("except Exception", "except BaseException"),
        SAFE_CALL.replace("except Exception", "except ValueError"),
        FATAL_GETS_THROUGH,
        ORDINARY_ERROR_HANDLED,
    ),
    Case(
        "CM602-swallow-fatal",
        "cm602_run",
        RUN_ALL,
        RUN_ALL.replace("        results.clear()\n        raise\n", "        results.clear()\n"),
        RUN_ALL.replace("except BaseException", "except ValueError"),
        fatal_propagates("cm602_run", "Fatal"),
        RESULTS.replace("MODULE", "cm602_run"),
    ),
    Case(
        "CM603-convert-fatal",
        "cm603_run",
        RUN_ALL,
        RUN_ALL.replace("        raise\n", "        raise RuntimeError('fatal error in the work')\n"),
        RUN_ALL.replace("except BaseException", "except ValueError"),
        fatal_propagates("cm603_run", "Fatal"),
        # Any exception at all satisfies this suite, a converted one too.
        fatal_propagates("cm603_run", "BaseException"),
    ),
    Case(
        "CM604-no-cancel-after-fatal",
        "cm604_cancel",
        CANCELLING,
        CANCELLING.replace("        for future in futures:\n            future.cancel()\n", ""),
        CANCELLING.replace("        for future in futures:\n            future.cancel()\n", ""),
        CANCELS_THE_REST,
        FATAL_RAISED,
    ),
    Case(
        "CM605-message-args0",
        "cm605_message",
        MESSAGE,
        MESSAGE.replace("str(exc)", "exc.args[0]"),
        MESSAGE.replace("str(exc)", "f'{exc}'"),
        MESSAGE_OF_KEY_ERROR,
        # For one plain string argument, str(e) and args[0] agree.
        MESSAGE_OF_VALUE_ERROR.replace("MODULE", "cm605_message"),
    ),
    Case(
        "CM606-message-repr",
        "cm606_message",
        MESSAGE,
        MESSAGE.replace("str(exc)", "repr(exc)"),
        "def describe(value):\n    return str(value)\n",
        MESSAGE_OF_VALUE_ERROR.replace("MODULE", "cm606_message"),
        MESSAGE_MENTIONED,
    ),
]
