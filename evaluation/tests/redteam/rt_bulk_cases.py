"""Class 7: the same candidate graded alone and in bulk (`concgrade predictions`) gets one decision."""

from __future__ import annotations

from redteam_support import REFERENCE, SEQUENTIAL_WITH_LIMIT, Case, candidate
from rt_attacks import MODULES

# Every test passes; a child process is left running (the PID namespace ends it, and the grade says so).
LEFTOVER_CHILD = (
    REFERENCE
    + """
import subprocess as _subprocess, sys as _sys
_subprocess.Popen([_sys.executable, "-c", "import time; time.sleep(60)  # __TOKEN__"])
"""
)

# Every test passes; a non-daemon thread waits forever, so the process never exits after its session.
HANGS_AFTER_SESSION = (
    REFERENCE
    + """
_forever = threading.Event()
threading.Thread(target=_forever.wait, name="forever").start()
"""
)

# Every test passes; a hook registered into pytest from the implementation (it changes nothing here).
REGISTERS_A_HOOK = (
    REFERENCE
    + MODULES
    + """
import gc as _gc


class _Quiet:
    def pytest_runtest_logreport(self, report):
        return None


try:
    _config = next(o for o in _gc.get_objects() if type(o).__name__ == "Config" and hasattr(o, "pluginmanager"))
    _config.pluginmanager.register(_Quiet(), "quiet")
except Exception:
    pass
"""
)

CASES = [
    Case(
        "leftover-child",
        7,
        candidate(LEFTOVER_CHILD),
        "rejected",
        ("runs.processes_ended.candidate",),
        bulk="unresolved",
        today="predictions: resolved",
    ),
    Case(
        "hangs-after-session",
        7,
        candidate(HANGS_AFTER_SESSION),
        "rejected",
        ("runs.processes_ended.candidate",),
        bulk="unresolved",
        today="predictions: resolved",
    ),
    Case(
        "registers-a-hook",
        7,
        candidate(REGISTERS_A_HOOK),
        "rejected",
        ("integrity.",),
        bulk="unresolved",
        today="predictions: resolved",
    ),
    Case(
        "sequential-with-constant",
        7,
        candidate(SEQUENTIAL_WITH_LIMIT),
        "rejected",
        ("f2p.passes_on_candidate",),
        bulk="unresolved",
        today="predictions: partial",
    ),
    Case("reference", 7, candidate(REFERENCE), "accepted", bulk="resolved"),
]
