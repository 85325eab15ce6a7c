"""The benchmark workloads a task declares (`[[workloads]]` in its manifest), read and validated."""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from concgrade.errors import TaskError
from concgrade.files import walk_files
from concgrade.task.entries import entry_name

# Task folders where a workload's hooks (setup, args_factory) may live, searched in this order.
HOOK_FOLDERS = ("tests", "evaluation")
DEFAULT_REPEATS = 5
DEFAULT_WARMUP = 1
DEFAULT_MARGIN = 0.1
# With fewer timed repeats a rank interval cannot be narrower than the whole range of the data.
MIN_REPEATS = 3
MAX_REPEATS = 50

KEYS = {
    "name",
    "callable",
    "args",
    "kwargs",
    "args_factory",
    "setup",
    "probe",
    "params",
    "ideal",
    "repeats",
    "warmup",
    "warmup_params",
    "min_speedup",
    "margin",
    "timeout",
    "description",
    "same_result",
}
# A dotted module name, a colon, and an attribute (dotted for a method of a class: `module:Class.method`).
REFERENCE_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class Workload:
    """One declared workload: a callable of the implementation, its arguments, and what counts as fast."""

    name: str
    callable: str  # "module:function", imported from the implementation under test
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    args_factory: str | None = None  # "module:function" in the task's tests/ or evaluation/ folder
    setup: str | None = None  # "module:function" hook run before timing (replaces slow dependencies)
    probe: str | None = None  # "module:function" of the implementation whose concurrent calls are counted
    params: dict[str, Any] = field(default_factory=dict)  # declared numbers, passed to the hooks and the ideal
    ideal: str | None = None  # seconds, or an arithmetic expression over params
    ideal_seconds: float | None = None
    repeats: int = DEFAULT_REPEATS
    warmup: int = DEFAULT_WARMUP  # untimed calls in each process before the timed one
    warmup_params: dict[str, Any] = field(default_factory=dict)  # params overridden for the warm-up calls
    min_speedup: float | None = None
    margin: float = DEFAULT_MARGIN
    timeout: float | None = None  # seconds per process; default: the task's run timeout
    description: str = ""
    same_result: bool = True  # every implementation must return what before returns (when it is plain data)

    @property
    def hooks(self) -> tuple[str, ...]:
        """The task-side hook references (module:function) this workload needs."""
        return tuple(ref for ref in (self.args_factory, self.setup) if ref)

    def identity(self) -> dict[str, Any]:
        """What defines the measurement (for the cache key): everything but the verdict's thresholds."""
        data = asdict(self)
        for key in ("min_speedup", "margin", "description", "same_result"):
            data.pop(key)
        return data


def parse_workloads(manifest: dict[str, Any], path: Path | None) -> tuple[Workload, ...]:
    """The `[[workloads]]` of a manifest; errors name the file and the key."""
    section = manifest.get("workloads")
    if section is None:
        return ()
    where = str(path) if path else "manifest"
    if isinstance(section, dict):  # `[workloads]` written instead of `[[workloads]]`
        raise TaskError(f"{where}: write each workload as [[workloads]] (an array of tables), not [workloads]")
    if not isinstance(section, list) or not all(isinstance(entry, dict) for entry in section):
        raise TaskError(f"{where}: workloads must be an array of tables ([[workloads]])")
    workloads = [parse_workload(entry, where, index) for index, entry in enumerate(section)]
    names = [w.name for w in workloads]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TaskError(f"{where}: workload names must be unique; repeated: {', '.join(duplicates)}")
    return tuple(workloads)


def parse_workload(entry: dict[str, Any], where: str, index: int) -> Workload:
    label = f"workloads[{index}]"
    name = entry_name(entry, where, label, KEYS)
    label = f"workloads[{index}] ({name})"

    def reference(key: str, required: bool = False) -> str | None:
        value = entry.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not REFERENCE_PATTERN.match(value):
            raise TaskError(f"{where}: {label}.{key} must be 'module:function', not {value!r}")
        return value

    callable_ref = reference("callable", required=True)
    args_factory = reference("args_factory")
    if args_factory and ("args" in entry or "kwargs" in entry):
        raise TaskError(f"{where}: {label}: give either args/kwargs or args_factory, not both")
    args = entry.get("args", [])
    if not isinstance(args, list):
        raise TaskError(f"{where}: {label}.args must be an array")
    kwargs = entry.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise TaskError(f"{where}: {label}.kwargs must be a table")
    try:
        json.dumps([args, kwargs], allow_nan=False)
    except (TypeError, ValueError):
        raise TaskError(f"{where}: {label}: args and kwargs must be plain values (no dates or times)") from None
    params = entry.get("params", {})
    if not isinstance(params, dict) or not all(_is_param(v) for v in params.values()):
        raise TaskError(f"{where}: {label}.params must be a table of numbers, strings or booleans")
    if not all(str(key).isidentifier() for key in params):
        raise TaskError(f"{where}: {label}.params keys must be identifiers (they are passed as keyword arguments)")
    ideal_text, ideal_seconds = _ideal(entry.get("ideal"), params, where, label)
    warmup_params = entry.get("warmup_params", {})
    if not isinstance(warmup_params, dict) or not all(_is_param(v) for v in warmup_params.values()):
        raise TaskError(f"{where}: {label}.warmup_params must be a table of numbers, strings or booleans")
    stray = sorted(set(warmup_params) - set(params))
    if stray:
        raise TaskError(f"{where}: {label}.warmup_params overrides {stray}, which params does not declare")
    min_speedup = entry.get("min_speedup")
    if min_speedup is not None and not (_is_number(min_speedup) and min_speedup > 0):
        raise TaskError(f"{where}: {label}.min_speedup must be a positive number (a ratio, e.g. 5 for 5x)")
    margin = entry.get("margin", DEFAULT_MARGIN)
    if not (_is_number(margin) and 0 <= margin < 1):
        raise TaskError(f"{where}: {label}.margin must be a fraction in [0, 1), e.g. 0.1")
    timeout = entry.get("timeout")
    if timeout is not None and not (_is_number(timeout) and timeout > 0):
        raise TaskError(f"{where}: {label}.timeout must be a positive number of seconds")
    same_result = entry.get("same_result", True)
    if not isinstance(same_result, bool):
        raise TaskError(f"{where}: {label}.same_result must be true or false")
    description = entry.get("description", "")
    if not isinstance(description, str):
        raise TaskError(f"{where}: {label}.description must be text")
    return Workload(
        name=name,
        callable=str(callable_ref),
        args=args,
        kwargs=kwargs,
        args_factory=args_factory,
        setup=reference("setup"),
        probe=reference("probe"),
        params=dict(params),
        ideal=ideal_text,
        ideal_seconds=ideal_seconds,
        repeats=_count(entry, "repeats", DEFAULT_REPEATS, MIN_REPEATS, where, label),
        warmup=_count(entry, "warmup", DEFAULT_WARMUP, 0, where, label),
        warmup_params=dict(warmup_params),
        min_speedup=float(min_speedup) if min_speedup is not None else None,
        margin=float(margin),
        timeout=float(timeout) if timeout is not None else None,
        description=description,
        same_result=same_result,
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_param(value: Any) -> bool:
    return _is_number(value) or isinstance(value, (str, bool))


def _count(entry: dict[str, Any], key: str, default: int, least: int, where: str, label: str) -> int:
    value = entry.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= MAX_REPEATS:
        raise TaskError(f"{where}: {label}.{key} must be a whole number from {least} to {MAX_REPEATS}")
    return value


def _ideal(value: Any, params: dict[str, Any], where: str, label: str) -> tuple[str | None, float | None]:
    if value is None:
        return None, None
    if _is_number(value):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = evaluate_expression(value, params)
        except ValueError as exc:
            raise TaskError(f"{where}: {label}.ideal {value!r}: {exc}") from None
    else:
        raise TaskError(f"{where}: {label}.ideal must be seconds or an expression over params, e.g. 'n * t / 50'")
    if not (math.isfinite(seconds) and seconds > 0):
        raise TaskError(f"{where}: {label}.ideal must come to a positive number of seconds, not {seconds}")
    return str(value), seconds


_OPERATORS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def evaluate_expression(text: str, names: dict[str, Any]) -> float:
    """Arithmetic (+ - * / // ** and parentheses) over numbers and the declared names; nothing else."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ValueError("not an arithmetic expression") from None

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and _is_number(node.value):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in names or not _is_number(names[node.id]):
                raise ValueError(f"{node.id!r} is not a number declared in params")
            return float(names[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 64:
                raise ValueError("exponent too large")
            try:
                return _OPERATORS[type(node.op)](left, right)
            except ZeroDivisionError:
                raise ValueError("division by zero") from None
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.operand))
        raise ValueError("only numbers, params names, + - * / // ** and parentheses are allowed")

    return value(tree)


def read_workloads(root: Path, manifest: dict[str, Any], path: Path | None) -> tuple[Workload, ...]:
    """The task's workloads, validated, with every hook found: a bad declaration fails before anything runs."""
    workloads = parse_workloads(manifest, path)
    for workload in workloads:
        for key in ("setup", "args_factory"):
            reference = getattr(workload, key)
            if reference and not hook_files(root, reference):
                raise TaskError(
                    f"{path}: workload {workload.name}: {key} = {reference!r}: no module "
                    f"{reference.split(':')[0].split('.')[0]} in {' or '.join(f + '/' for f in HOOK_FOLDERS)}"
                )
    return workloads


def hook_files(root: Path, reference: str) -> list[Path]:
    """The files of the module a hook reference names (its top-level module or package), in the hook folders."""
    top = reference.split(":")[0].split(".")[0]
    for folder in HOOK_FOLDERS:
        module, package = root / folder / f"{top}.py", root / folder / top
        if module.is_file():
            return [module]
        if (package / "__init__.py").is_file():
            return list(walk_files(package, ".py"))
    return []
