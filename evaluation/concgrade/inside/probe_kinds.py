"""The four probe kinds and how each starts inside a test process; shared by the fixture and declared probes.

threads    active calls of a function across threads, live threads at the peak, pending executor work
asyncio    active calls of a coroutine function, and live asyncio tasks
processes  active calls across every process of the run, and live multiprocessing children
pending    submitted executor and pool work not yet done (no target needed)

Runs inside the process under test: standard library only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from concgrade.inside import process_probe
from concgrade.inside.probe import PENDING, CountWindow, install_probe, resolve_target, uninstall_probe

KINDS = ("threads", "asyncio", "processes", "pending")


class PendingProbe:
    """Submitted work not yet done (executor futures, pool jobs) from the probe's start, with the peak."""

    kind = "pending"

    def __init__(self, label: str = "pending work") -> None:
        self.label = label
        self._window: CountWindow = PENDING.open_window()

    @property
    def max_pending(self) -> int:
        return self._window.peak

    @property
    def submitted(self) -> int:
        return self._window.added

    def close(self) -> None:
        self._window.close()

    def figures(self) -> dict[str, Any]:
        return {"label": self.label, "kind": self.kind, **self._window.figures("pending", "submitted")}


class RunningProbe:
    """A started probe of any kind: the object a test reads, and how to stop it."""

    def __init__(self, probe: Any, stop: Callable[[], None]) -> None:
        self.probe = probe
        self._stop = stop
        self.stopped = False

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self._stop()

    def figures(self) -> dict[str, Any]:
        return self.probe.figures()


def process_target_name(target: Any, attribute: str | None) -> str:
    """`module:function` for the cross-process probe, from a string or a (module, name) pair."""
    if isinstance(target, str):
        if attribute is not None:
            return f"{target}:{attribute}"
        process_probe.split_target(target)
        return target if ":" in target else ":".join(target.rsplit(".", 1))
    if attribute is None:
        raise TypeError("a processes probe needs a target: probe('module:function') or probe(module, 'function')")
    module = getattr(target, "__name__", None)
    if not inspect.ismodule(target) or not module:
        raise TypeError("a processes probe wraps a module-level function: pass the module and the function's name")
    return f"{module}:{attribute}"


def start_probe(
    target: Any = None, attribute: str | None = None, *, kind: str = "auto", label: str | None = None
) -> RunningProbe:
    """Start a probe of `kind` ("auto": asyncio for a coroutine function, threads otherwise)."""
    if kind not in (*KINDS, "auto"):
        raise ValueError(f"unknown probe kind {kind!r}; use one of {', '.join(KINDS)}")
    if kind == "pending":
        pending = PendingProbe(label or "pending work")
        return RunningProbe(pending, pending.close)
    if target is None:
        raise TypeError(f"a {kind} probe needs a target: probe(module, 'function') or probe('module.function')")
    if kind == "processes":
        name = process_target_name(target, attribute)
        process, undo = process_probe.start_probe(name, label)
        return RunningProbe(process, undo)
    if kind == "auto" and isinstance(target, str) and ":" in target:
        target, _, attribute = target.partition(":")
    probe, patch = install_probe(target, attribute, label, kind=kind)
    return RunningProbe(probe, lambda: uninstall_probe(probe, patch))


def parse_declared(option: str) -> tuple[str, str]:
    """`KIND=TARGET` (the plugin option the harness passes for a manifest's [[probes]]) into (kind, target)."""
    kind, sep, target = option.partition("=")
    if not sep or kind not in (*KINDS, "auto"):
        raise ValueError(f"--concgrade-probe {option!r}: expected KIND=TARGET with KIND one of {', '.join(KINDS)}")
    return kind, target


def start_declared(kind: str, target: str) -> RunningProbe:
    """A manifest-declared probe around one test; a target that cannot be found is reported, not raised."""
    label = f"{target or 'pending work'} (manifest)"  # apart from a fixture's probe of the same function
    try:
        if kind == "processes":
            probe = process_probe.ProcessProbe(_process_reader(), process_target_name(target, None), label)
            return RunningProbe(probe, probe.stop)
        if kind == "pending":
            return start_probe(kind="pending", label=label)
        module, _, attribute = target.partition(":") if ":" in target else target.rpartition(".")
        resolve_target(module, attribute)
        return start_probe(module, attribute, kind=kind, label=label)
    except Exception as exc:  # the probe must never fail the test it watches
        return RunningProbe(UnavailableProbe(label, kind, f"{type(exc).__name__}: {exc}"), lambda: None)


def _process_reader() -> process_probe.EventReader:
    state = process_probe.current_state()
    if state is None:
        raise RuntimeError("the cross-process probe is not switched on in this run")
    return process_probe.reader_for(state.events_dir)


class UnavailableProbe:
    """Stands in for a declared probe that could not start; its figures say why."""

    def __init__(self, label: str, kind: str, error: str) -> None:
        self.label, self.kind, self.error = label, kind, error

    def figures(self) -> dict[str, Any]:
        return {"label": self.label, "kind": self.kind, "error": self.error}
