"""Threads started under the harness's audit hook and stress mode's switch interval keep their profile function."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EVALUATION = Path(__file__).resolve().parents[2]
STARTERS, THREADS_EACH = 4, 4000

PROGRAM = """
import json, sys, threading
from concgrade.inside import audit, threadhooks
audit.listen({{"sys.setprofile"}}, lambda event, args: None)  # a listener, as the containment's: Python code
audit.start()
if {fixed}:
    threadhooks.install()
sys.setswitchinterval(1e-6)
profiled, ran, died = set(), [0], [0]

def profile(frame, event, arg):
    profiled.add(threading.get_ident())

threading.setprofile(profile)
sys.unraisablehook = lambda unraisable: died.__setitem__(0, died[0] + 1)

def target():
    ran[0] += 1

def starter():
    for _ in range({each}):
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()

starters = [threading.Thread(target=starter) for _ in range({starters})]
for thread in starters:
    thread.start()
for thread in starters:
    thread.join()
print(json.dumps({{"ran": ran[0], "died": died[0]}}))
"""


def start_threads(fixed: bool) -> dict:
    code = PROGRAM.format(fixed=fixed, each=THREADS_EACH, starters=STARTERS)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=EVALUATION, check=True
    )
    return json.loads(done.stdout)


def test_every_thread_starts_its_target_while_others_install_their_profile_function():
    assert start_threads(fixed=True) == {"ran": STARTERS * THREADS_EACH, "died": 0}
