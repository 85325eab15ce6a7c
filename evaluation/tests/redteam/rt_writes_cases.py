"""Class 5: writes outside the scratch copy (the real home, shared folders, the user's task) and a full temp folder."""

from __future__ import annotations

from redteam_support import REFERENCE, Case, candidate
from rt_attacks import GRADER_ARGV

WRITE = """

def _write(path, text="__TOKEN__\\n"):
    try:
        with open(path, "w") as handle:
            handle.write(text)
    except (OSError, TypeError):
        pass
"""

REAL_HOME = (
    REFERENCE
    + WRITE
    + """
import pwd as _pwd
_write(_pwd.getpwuid(0).pw_dir + "/.rt-__TOKEN__")
"""
)

# The grader's HOME, read from its environment in /proc, and a file of its dotfiles rewritten.
GRADER_HOME = (
    REFERENCE
    + WRITE
    + """
import os as _os


def _grader_home():
    for _entry in _os.listdir("/proc"):
        try:
            with open("/proc/" + _entry + "/environ", "rb") as _handle:
                _variables = dict(v.split(b"=", 1) for v in _handle.read().split(b"\\0") if b"=" in v)
        except OSError:
            continue
        if b"REDTEAM_TOKEN" in _variables and b"HOME" in _variables:
            _home = _variables[b"HOME"].decode()
            if _os.path.isfile(_home + "/.profile"):
                return _home
    return None


_home = _grader_home()
if _home:
    _write(_home + "/.profile", "echo __TOKEN__\\n")
"""
)

SHARED_VAR_TMP = REFERENCE + WRITE + '\n_write("/var/tmp/rt-__TOKEN__")\n'
PRIVATE_DEV_SHM = REFERENCE + WRITE + '\n_write("/dev/shm/rt-__TOKEN__")\n'

# /tmp is the run's own (private) temporary folder: a file there is fine, and must vanish with the run.
PRIVATE_TMP = REFERENCE + WRITE + '\n_write("/tmp/rt-__TOKEN__")\n'

# The user's task folder, found from the grader's command line.
USER_TASK = (
    REFERENCE
    + WRITE
    + GRADER_ARGV
    + """
for _task in (_grader_option("--task"), "__TASK__"):  # from the grader's command line, or known beforehand
    if _task:
        _write(_task + "/tests/test_behavior_basics.py", "def test_nothing():\\n    pass\\n")
"""
)

# Gigabytes in the run's temporary folder, every failure swallowed.
FULL_TMP = (
    REFERENCE
    + """
import os as _os
import tempfile as _tempfile

_filled = []


def _fill():
    _chunk = b"z" * (1 << 20)
    try:
        for _number in range(40):
            with open(_os.path.join(_tempfile.gettempdir(), f"fill-{_number}"), "wb") as _handle:
                for _ in range(32):
                    _handle.write(_chunk)
    except OSError:
        pass


_bounded_notify_users = notify_users


def notify_users(user_ids, payload):
    if not _filled:
        _filled.append(True)
        _fill()
    return _bounded_notify_users(user_ids, payload)
"""
)

SANDBOX = "integrity.sandbox_respected.candidate"

CASES = [
    Case(
        "real-home",
        5,
        candidate(REAL_HOME),
        "rejected",
        (SANDBOX,),
        canaries=("/root/.rt-__TOKEN__",),
        today="accepted",
    ),
    Case("grader-home", 5, candidate(GRADER_HOME), "rejected", (SANDBOX,), today="accepted; .profile rewritten"),
    Case("var-tmp", 5, candidate(SHARED_VAR_TMP), "rejected", (SANDBOX,), today="accepted"),
    Case("dev-shm", 5, candidate(PRIVATE_DEV_SHM), "accepted", today="accepted, file left in /dev/shm", notes="bwrap"),
    Case("private-tmp", 5, candidate(PRIVATE_TMP), "accepted", today="accepted, file left in /tmp", notes="bwrap"),
    Case(
        "user-task", 5, candidate(USER_TASK), "rejected", (SANDBOX,), today="rejected after the fact", outside_tmp=True
    ),
    Case(
        "full-tmp",
        5,
        candidate(FULL_TMP),
        "rejected",
        ("limits.respected.candidate",),
        manifest_edits=(("[limits]\n", "[limits]\ndisk_mb = 256\n"),),
        today="accepted with 1.25 GiB written",
    ),
]
