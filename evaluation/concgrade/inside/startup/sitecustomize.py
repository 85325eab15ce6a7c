"""Interpreter start-up hook of graded runs: the cross-process probe where asked for, and the child file watch.

Python imports the first `sitecustomize` on the path at start-up, in every interpreter: the test
process and its spawn and forkserver children alike. This one does nothing unless the variable
CONCGRADE_PROCESS_PROBE is set, and then hands over to any other `sitecustomize` further down the
path, so that the environment's own start-up hook still runs.
"""

import os
import sys

# protocol.PROCESS_PROBE_VARIABLE, BOOT_VARIABLE and WATCH_CONFIG, written out: this file runs at the start of
# every interpreter of a run, before anything is imported, and must cost nothing when nothing is switched on.
PROCESS_PROBE_VARIABLE = "CONCGRADE_PROCESS_PROBE"
BOOT_VARIABLE = "CONCGRADE_BOOT"
WATCH_CONFIG = "_concgrade_watch.json"


def _switch_on_probe() -> None:
    if not os.environ.get(PROCESS_PROBE_VARIABLE):
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
    if os.environ.get(BOOT_VARIABLE):  # the test process itself: its plugin watches, on the signed channel
        return
    shim = os.path.dirname(os.path.abspath(__file__))
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
