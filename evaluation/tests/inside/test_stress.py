"""Stress mode as the code under test sees it: locks that work and look like locks, a switch interval that reads
as CPython's own, while the real one stays tiny. Each case runs in a fresh interpreter (stress mode cannot be
switched off again)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

EVALUATION = Path(__file__).resolve().parents[2]


def stressed(code: str) -> dict:
    """Run `code` in a fresh interpreter after stress mode is on; it sets `seen`, which comes back as JSON."""
    program = (
        "import json, sys, threading, time\n"
        "real_get = sys.getswitchinterval\n"
        "before = {'lock': repr(threading.Lock()), 'Lock': threading.Lock.__name__, 'RLock': threading.RLock.__name__,"
        " 'type': type(threading.Lock()).__name__, 'interval': sys.getswitchinterval()}\n"
        "from concgrade.inside.stress import Stress\n"
        "Stress(7).activate()\n"
        "seen = {}\n" + textwrap.dedent(code) + "\nprint(json.dumps({'before': before, 'seen': seen}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, cwd=EVALUATION, check=True
    )
    return json.loads(done.stdout)


def test_the_switch_interval_reads_as_before_while_the_real_one_is_tiny():
    out = stressed("seen['shown'] = sys.getswitchinterval(); seen['real'] = real_get()")
    assert out["seen"]["shown"] == out["before"]["interval"] == 0.005
    assert out["seen"]["real"] < 1e-5


def test_code_that_saves_and_restores_the_interval_keeps_the_stress():
    out = stressed(
        """
        old = sys.getswitchinterval()
        sys.setswitchinterval(0.01)
        seen['set'] = sys.getswitchinterval()
        sys.setswitchinterval(old)
        seen['restored'] = sys.getswitchinterval()
        seen['real'] = real_get()
        errors = []
        for bad in (0, -1.0, "x"):
            try:
                sys.setswitchinterval(bad)
            except (TypeError, ValueError) as exc:
                errors.append(type(exc).__name__)
        seen['errors'] = errors
        """
    )
    assert out["seen"]["set"] == 0.01 and out["seen"]["restored"] == 0.005
    assert out["seen"]["real"] < 1e-5
    assert out["seen"]["errors"] == ["ValueError", "ValueError", "TypeError"]


def test_stressed_locks_look_like_real_ones_and_still_exclude():
    out = stressed(
        """
        lock = threading.Lock()
        seen['lock'] = repr(lock)
        seen['Lock'] = threading.Lock.__name__
        seen['RLock'] = threading.RLock.__name__
        seen['type'] = type(lock).__name__
        with lock:
            seen['held'] = repr(lock)
            seen['second'] = lock.acquire(timeout=0.01)
        again = threading.RLock()
        with again, again:
            seen['reentrant'] = True
        counter = [0]

        def add():
            for _ in range(2000):
                with lock:
                    value = counter[0]
                    time.sleep(0) if value % 500 == 0 else None
                    counter[0] = value + 1

        threads = [threading.Thread(target=add) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seen['count'] = counter[0]
        """
    )
    seen, before = out["seen"], out["before"]
    assert seen["lock"].startswith("<unlocked _thread.lock object at ") and "stress" not in seen["lock"]
    assert seen["held"].startswith("<locked _thread.lock object at ")
    assert (seen["Lock"], seen["RLock"], seen["type"]) == (before["Lock"], before["RLock"], before["type"])
    assert seen["second"] is False and seen["reentrant"] is True
    assert seen["count"] == 8000
