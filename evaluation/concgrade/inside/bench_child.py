"""Times one call of a workload in a fresh process: `python -m concgrade.inside.bench_child SPEC.json RESULT.json`.

It shares a process with the code under test, so it imports only the standard library and the probe,
binds its clocks before any of that code is imported, and writes its one record with one write to a
file it opened first. It exits with os._exit right after: threads the workload left behind cannot
keep a measured process alive.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import inspect
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from concgrade.inside.probe import install_probe

_perf_counter = time.perf_counter  # bound now: code under test replacing time.perf_counter cannot reach these
_monotonic = time.monotonic
_os_write, _os_exit = os.write, os._exit


def resolve(reference: str) -> tuple[Any, str, Any]:
    """'module:attr.path' -> (owner object, last attribute name, value)."""
    module_name, _, path = reference.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    return owner, name, getattr(owner, name)


def call_with_params(function: Callable[..., Any], params: dict[str, Any]) -> Any:
    """Call a hook with the declared params it names (all of them if it takes **kwargs)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return function(**params)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return function(**params)
    names = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return function(**{key: value for key, value in params.items() if key in names})


def arguments(spec: dict[str, Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The call's arguments: the declared ones, or what the args factory makes of `params`."""
    if not spec.get("args_factory"):
        return list(spec.get("args", [])), dict(spec.get("kwargs", {}))
    made = call_with_params(resolve(spec["args_factory"])[2], params)
    if isinstance(made, dict) and set(made) <= {"args", "kwargs"}:
        return list(made.get("args", [])), dict(made.get("kwargs", {}))
    if isinstance(made, (list, tuple)):
        return list(made), {}
    raise TypeError(
        f"args_factory must return a list of arguments or {{'args': [...], 'kwargs': {{...}}}}, not {made!r}"
    )


def max_rss_bytes() -> dict[str, int] | None:
    """Peak resident memory of this process and of its largest reaped child, in bytes."""
    try:
        import resource
    except ImportError:  # not on Unix
        return None
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB on Linux
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * unit
    return {"self": own, "children": children, "tree": own + children}


def module_proof(function: Any) -> dict[str, str] | None:
    """Which file the workload's callable came from, and its content hash."""
    name = getattr(function, "__module__", "") or ""
    path = getattr(sys.modules.get(name), "__file__", None)
    if not path:
        return None
    real = os.path.realpath(path)
    with open(real, "rb") as handle:
        return {"module": name, "file": real, "sha256": hashlib.sha256(handle.read()).hexdigest()}


def measure(spec: dict[str, Any], record: dict[str, Any]) -> None:
    """Prepare the call (hooks, arguments, probe), then time it; `record` says how far it got."""
    record["phase"] = "setup"
    started = _perf_counter()
    for folder in spec.get("hook_paths", []):
        sys.path.append(folder)  # after the implementation's own path: a hook never shadows it
    params = dict(spec.get("params", {}))
    if spec.get("setup"):
        call_with_params(resolve(spec["setup"])[2], params)
    record["phase"] = "import"
    function = resolve(spec["callable"])[2]
    record["imported"] = module_proof(function)
    # Warm-up calls first (pools started, lazy imports done), on a smaller slice if the task says so.
    record["phase"], record["warmup_seconds"] = "warm-up", []
    for _ in range(int(spec.get("warmup", 0))):
        args, kwargs = arguments(spec, {**params, **spec.get("warmup_params", {})})
        began = _perf_counter()
        call(function, args, kwargs)
        record["warmup_seconds"].append(_perf_counter() - began)
    record["phase"] = "arguments"
    args, kwargs = arguments(spec, params)
    probe = None
    if spec.get("probe"):
        record["phase"] = "probe"
        owner, name, _ = resolve(spec["probe"])
        probe, _patch = install_probe(owner, name)
        function = resolve(spec["callable"])[2]  # the probe may have replaced the callable itself
    record["phase"] = "call"
    record["prepare_seconds"] = _perf_counter() - started
    record["rss_before_call"] = max_rss_bytes()
    began, began_monotonic = _perf_counter(), _monotonic()
    result = call(function, args, kwargs)
    ended, ended_monotonic = _perf_counter(), _monotonic()
    record.update(
        ok=True,
        phase="done",
        seconds=ended - began,
        window=[began_monotonic, ended_monotonic],
        rss=max_rss_bytes(),
        probe=probe.figures() if probe else None,
        result_digest=result_digest(result),
    )


def call(function: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    """One call of the workload; a coroutine function's call runs to completion in a new event loop."""
    result = function(*args, **kwargs)
    if inspect.isawaitable(result):
        result = asyncio.run(_awaited(result))
    return result


def result_digest(value: Any) -> str | None:
    """sha256 of the result as canonical JSON; None for a result that is not plain data."""

    def refuse(item: Any) -> Any:
        raise TypeError(type(item).__name__)

    try:
        text = json.dumps(value, sort_keys=True, default=refuse)
    except (TypeError, ValueError, RecursionError):
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def main(argv: list[str], leftovers: Callable[[], list[str]] | None = None) -> None:
    """Time the workload of SPEC and write the record to RESULT; `leftovers` lists processes it left (the boot's)."""
    spec_path, result_path = argv
    fd = os.open(result_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    record: dict[str, Any] = {"ok": False, "phase": "start"}
    try:
        measure(spec, record)
    except BaseException as exc:  # the workload's failure is a result to report, whatever it is
        frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
        record.update(ok=False, error=f"{type(exc).__name__}: {exc}", traceback="".join(frames[-6:]))
    record["pid"] = os.getpid()
    if leftovers is not None:
        try:
            record["leftovers"] = leftovers()
        except Exception as exc:  # noqa: BLE001 - the measurement stands; the look for leftovers failed
            record["leftovers"] = [f"could not look for leftover processes: {exc}"]
    try:
        line = json.dumps(record, default=str)
    except (TypeError, ValueError) as exc:
        line = json.dumps({"ok": False, "error": f"could not encode the measurement: {exc}"})
    _os_write(fd, line.encode("utf-8", "replace"))
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        _os_exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
