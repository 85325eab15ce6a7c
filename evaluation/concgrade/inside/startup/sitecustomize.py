"""Interpreter start-up hook of graded runs: the cross-process probe where asked for, and the child file watch.

Python imports the first `sitecustomize` on the path at start-up, in every interpreter: the test
process and its spawn and forkserver children alike. This one does nothing unless the probe's file lies
beside it (a graded run's shim) or, outside a grade, the variable CONCGRADE_PROCESS_PROBE is set; then it
hands over to any other `sitecustomize` further down the path, so that the environment's own start-up hook
still runs.
"""

import os
import sys

# protocol.PROCESS_PROBE_VARIABLE, PROBE_FILE, BOOT_SCRIPT and WATCH_CONFIG, written out: this file runs at the
# start of every interpreter of a run, before anything is imported, and must cost nothing when nothing is on.
PROCESS_PROBE_VARIABLE = "CONCGRADE_PROCESS_PROBE"
PROBE_FILE = "site.json"
BOOT_SCRIPT = "main.py"
WATCH_CONFIG = "_concgrade_watch.json"


def _switch_on_probe() -> None:
    beside = os.path.join(os.path.dirname(os.path.abspath(__file__)), PROBE_FILE)
    if not os.environ.get(PROCESS_PROBE_VARIABLE) and not os.path.exists(beside):
        return
    try:
        from concgrade.inside import process_probe
    except ImportError:
        return
    try:
        process_probe.activate_from_environment()
    except Exception:  # never stop an interpreter from starting because of the probe
        pass


def _watch_loads() -> None:
    """A child interpreter of a graded run records which implementation files it reads (see filewatch.py)."""
    shim = os.path.dirname(os.path.abspath(__file__))
    if sys.argv and os.path.abspath(sys.argv[0]) == os.path.join(shim, BOOT_SCRIPT):
        return  # the test process itself: its plugin watches, on the signed channel
    if not os.path.exists(os.path.join(shim, WATCH_CONFIG)):
        return
    try:
        from concgrade.inside import filewatch

        filewatch.start_child_watch(shim)
    except Exception:  # never stop an interpreter from starting because of the watch
        pass


def _run_next_sitecustomize() -> None:
    import importlib.machinery
    import importlib.util

    mine = os.path.realpath(__file__)
    for entry in sys.path:
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", [entry or os.curdir])
        if spec is None or spec.loader is None or not spec.origin or os.path.realpath(spec.origin) == mine:
            continue
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception:
            pass
        return


_switch_on_probe()
_watch_loads()
_run_next_sitecustomize()
