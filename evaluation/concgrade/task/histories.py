"""The histories a task declares (`[[histories]]` in its manifest), read and validated (pure), and their child specs."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from concgrade.errors import TaskError
from concgrade.inside.history_spec import SpecError, parse_argument
from concgrade.task.entries import entry_name

KEYS = {
    "name",
    "description",
    "target",
    "kind",
    "constructor",
    "operations",
    "threads",
    "operations_per_thread",
    "compare",
    "partition_by",
    "asyncio",
    "stress",
    "budget_seconds",
    "runs",
    "timeout_seconds",
}
OPERATION_KEYS = {"method", "args", "weight"}
COMPARISONS = ("equal", "unique")
HOOK_FOLDERS = ("tests", "evaluation")  # where a task's hooks may live (as for workloads)
TARGET_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
# A hook: "tests/hist_hooks.py:operations" (a file of the task) or "hist_hooks:operations" (a module in tests/ or
# evaluation/).
HOOK_PATTERN = re.compile(r"^(?:(?P<file>[\w./-]+\.py)|(?P<module>[A-Za-z_][\w.]*)):(?P<function>[A-Za-z_]\w*)$")

DEFAULT_THREADS = 4
DEFAULT_OPERATIONS = 50
DEFAULT_BUDGET = 10.0
DEFAULT_TIMEOUT = 60.0
LIMITS = {"threads": (2, 64), "operations_per_thread": (1, 10_000), "runs": (1, 20)}
MAX_BUDGET = 600.0


@dataclass(frozen=True)
class HookRef:
    """A function in the task: in a file (relative to the task root) or a module of its hook folders."""

    function: str
    file: str | None = None
    module: str | None = None

    def text(self) -> str:
        return f"{self.file or self.module}:{self.function}"

    def resolved(self, task_root: Path) -> dict[str, str]:
        """How a child process finds it, in the task copy at `task_root`."""
        if self.file:
            return {"file": str(task_root / self.file), "function": self.function}
        return {"module": str(self.module), "function": self.function}


@dataclass(frozen=True)
class OperationDecl:
    method: str  # "" calls the target itself (a function target)
    args: tuple[Any, ...]  # literal values and generator strings, as declared (validated)
    weight: int = 1


Comparison = str | HookRef  # "equal", "unique", or a hook (method, args, expected, observed) -> bool


@dataclass(frozen=True)
class HistorySpec:
    name: str
    target: str  # "module:Class" (or a factory) for an object, "module:function" for a function
    kind: str  # "object" (operations are its methods) or "function" (operations call the target)
    operations: tuple[OperationDecl, ...] = ()
    operations_hook: HookRef | None = None  # yields each thread's operations instead
    constructor_args: tuple[Any, ...] = ()
    constructor_kwargs: dict[str, Any] = field(default_factory=dict)
    threads: int = DEFAULT_THREADS
    operations_per_thread: int = DEFAULT_OPERATIONS
    compare: Comparison = "equal"  # for every method not in compare_methods
    compare_methods: dict[str, Comparison] = field(default_factory=dict)
    partition_by: int | None = None  # the argument that keys independent operations
    asyncio: bool = False
    stress: bool = True
    budget_seconds: float = DEFAULT_BUDGET
    runs: int = 1  # recorded runs per implementation, seeds seed .. seed + runs - 1
    timeout_seconds: float = DEFAULT_TIMEOUT
    description: str = ""

    def comparison(self, method: str) -> Comparison:
        return self.compare_methods.get(method, self.compare)

    def unique_methods(self, methods: set[str]) -> frozenset[str]:
        """Which of `methods` must answer values no earlier call of the same method answered."""
        return frozenset(method for method in methods if self.comparison(method) == "unique")

    def child_spec(self, seed: int, task_root: Path) -> dict[str, Any]:
        """The JSON the driver (history_driver) and the model server (history_replay) read, for a task copy."""

        def comparison(value: Comparison) -> Any:
            return value.resolved(task_root) if isinstance(value, HookRef) else value

        return {
            "name": self.name,
            "target": self.target,
            "object": self.kind == "object",
            "constructor": {"args": list(self.constructor_args), "kwargs": dict(self.constructor_kwargs)},
            "operations": [{"method": op.method, "args": list(op.args), "weight": op.weight} for op in self.operations],
            "operations_hook": self.operations_hook.resolved(task_root) if self.operations_hook else None,
            "threads": self.threads,
            "operations_per_thread": self.operations_per_thread,
            "asyncio": self.asyncio,
            "stress": self.stress,
            "seed": seed,
            "timeout_seconds": self.timeout_seconds,
            "hook_paths": [str(task_root / folder) for folder in HOOK_FOLDERS],
            "compare": {
                "default": comparison(self.compare),
                "methods": {name: comparison(value) for name, value in self.compare_methods.items()},
            },
            "partition_by": self.partition_by,
        }

    def hooks(self) -> tuple[HookRef, ...]:
        found = [self.operations_hook, self.compare, *self.compare_methods.values()]
        return tuple(hook for hook in found if isinstance(hook, HookRef))


def parse_histories(manifest: dict[str, Any], path: Path | None) -> tuple[HistorySpec, ...]:
    """The `[[histories]]` of a manifest; TaskError naming the file and the key for anything wrong."""
    section = manifest.get("histories")
    if section is None:
        return ()
    where = str(path) if path else "manifest"
    if isinstance(section, dict):
        raise TaskError(f"{where}: write each history as [[histories]] (an array of tables), not [histories]")
    if not isinstance(section, list) or not all(isinstance(entry, dict) for entry in section):
        raise TaskError(f"{where}: histories must be an array of tables ([[histories]])")
    histories = tuple(parse_history(entry, where, index) for index, entry in enumerate(section))
    names = [history.name for history in histories]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise TaskError(f"{where}: history names must be unique; repeated: {', '.join(repeated)}")
    return histories


def read_histories(root: Path, manifest: dict[str, Any], path: Path | None) -> tuple[HistorySpec, ...]:
    """parse_histories, and every hook's file found in the task: a bad declaration fails before anything runs."""
    histories = parse_histories(manifest, path)
    for history in histories:
        for hook in history.hooks():
            if not hook_file(root, hook):
                raise TaskError(f"{path}: history {history.name}: hook {hook.text()!r}: no such file in the task")
    return histories


def hook_file(root: Path, hook: HookRef) -> Path | None:
    if hook.file:
        found = root / hook.file
        return found if found.is_file() else None
    top = str(hook.module).split(".")[0]
    for folder in HOOK_FOLDERS:
        for candidate in (root / folder / f"{top}.py", root / folder / top / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def parse_history(entry: dict[str, Any], where: str, index: int) -> HistorySpec:
    label = f"histories[{index}]"
    name = entry_name(entry, where, label, KEYS)
    read = _Reader(entry, f"{where}: {label} ({name})")
    target = entry.get("target")
    if not isinstance(target, str) or not TARGET_PATTERN.match(target):
        raise read.error("target", "must be 'module:Class' or 'module:function'", target)
    operations, hook = _operations(entry.get("operations"), read)
    kind = entry.get("kind") or ("function" if operations and not any(op.method for op in operations) else "object")
    if kind not in ("object", "function"):
        raise read.error("kind", "must be 'object' or 'function'", kind)
    _check_methods(operations, kind, read)
    args, kwargs = _constructor(entry.get("constructor"), kind, read)
    partition_by = entry.get("partition_by")
    if partition_by is not None:
        if not _is_int(partition_by) or partition_by < 0:
            raise read.error("partition_by", "must be an argument's position (0 for the first)", partition_by)
        short = [op.method or "the call" for op in operations if len(op.args) <= partition_by]
        if short:
            raise read.error(
                "partition_by", f"is argument {partition_by}, which {short[0]} does not take", partition_by
            )
    compare, compare_methods = _compare(entry.get("compare", "equal"), read)
    stray = sorted(set(compare_methods) - {op.method for op in operations}) if operations else []
    if stray:
        raise read.error("compare", f"names {stray}, which no operation calls", entry.get("compare"))
    return HistorySpec(
        name=name,
        target=target,
        kind=kind,
        operations=operations,
        operations_hook=hook,
        constructor_args=args,
        constructor_kwargs=kwargs,
        threads=read.count("threads", DEFAULT_THREADS),
        operations_per_thread=read.count("operations_per_thread", DEFAULT_OPERATIONS),
        compare=compare,
        compare_methods=compare_methods,
        partition_by=partition_by,
        asyncio=read.flag("asyncio", False),
        stress=read.flag("stress", True),
        budget_seconds=read.seconds("budget_seconds", DEFAULT_BUDGET),
        runs=read.count("runs", 1),
        timeout_seconds=read.seconds("timeout_seconds", DEFAULT_TIMEOUT),
        description=read.text("description"),
    )


class _Reader:
    """Typed reads of one [[histories]] entry, each error naming the file, the entry and the key."""

    def __init__(self, entry: dict[str, Any], where: str) -> None:
        self.entry, self.where = entry, where

    def error(self, key: str, problem: str, value: Any) -> TaskError:
        return TaskError(f"{self.where}.{key} {problem}, not {value!r}")

    def count(self, key: str, default: int) -> int:
        value = self.entry.get(key, default)
        least, most = LIMITS[key]
        if not _is_int(value) or not least <= value <= most:
            raise self.error(key, f"must be a whole number from {least} to {most}", value)
        return int(value)

    def seconds(self, key: str, default: float) -> float:
        value = self.entry.get(key, default)
        if not _is_number(value) or not 0 < value <= MAX_BUDGET:
            raise self.error(key, f"must be a number of seconds above 0 and at most {MAX_BUDGET:g}", value)
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        value = self.entry.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false", value)
        return value

    def text(self, key: str) -> str:
        value = self.entry.get(key, "")
        if not isinstance(value, str):
            raise self.error(key, "must be text", value)
        return value


def _operations(value: Any, read: _Reader) -> tuple[tuple[OperationDecl, ...], HookRef | None]:
    if isinstance(value, str):
        return (), _hook(value, read, "operations")
    if not isinstance(value, list) or not value or not all(isinstance(item, dict) for item in value):
        raise read.error("operations", "must be an array of tables ({ method = ..., args = [...] }) or a hook", value)
    return tuple(_operation(item, read, position) for position, item in enumerate(value)), None


def _operation(item: dict[str, Any], read: _Reader, position: int) -> OperationDecl:
    key = f"operations[{position}]"
    unknown = sorted(set(item) - OPERATION_KEYS)
    if unknown:
        raise read.error(key, f"has unknown key(s) {unknown} (use method, args, weight)", item)
    method = item.get("method", "")
    if not isinstance(method, str) or (method and not method.isidentifier()):
        raise read.error(f"{key}.method", "must be a method name", method)
    args = item.get("args", [])
    if not isinstance(args, list):
        raise read.error(f"{key}.args", "must be an array", args)
    try:
        json.dumps(args, allow_nan=False)
        for arg in args:
            parse_argument(arg)
    except SpecError as exc:
        raise TaskError(f"{read.where}.{key}.args: {exc}") from None
    except (TypeError, ValueError):
        raise read.error(f"{key}.args", "must be plain values (no dates or times)", args) from None
    weight = item.get("weight", 1)
    if not _is_int(weight) or weight < 1:
        raise read.error(f"{key}.weight", "must be a whole number of at least 1", weight)
    return OperationDecl(method, tuple(args), int(weight))


def _check_methods(operations: tuple[OperationDecl, ...], kind: str, read: _Reader) -> None:
    for position, op in enumerate(operations):
        if kind == "object" and not op.method:
            raise read.error(f"operations[{position}].method", "is required for an object target", op.method)
        if kind == "function" and op.method:
            raise read.error(f"operations[{position}].method", "must be left out for a function target", op.method)
        if op.method.startswith("__"):
            raise read.error(f"operations[{position}].method", "must not be a special method", op.method)


def _constructor(value: Any, kind: str, read: _Reader) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if value is None:
        return (), {}
    if kind == "function":
        raise read.error("constructor", "is for object targets only", value)
    if isinstance(value, list):
        args, kwargs = value, {}
    elif isinstance(value, dict) and set(value) <= {"args", "kwargs"}:
        args, kwargs = value.get("args", []), value.get("kwargs", {})
    else:
        raise read.error("constructor", "must be an array of arguments or { args = [...], kwargs = {...} }", value)
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise read.error("constructor", "must be an array of arguments or { args = [...], kwargs = {...} }", value)
    try:
        json.dumps([args, kwargs], allow_nan=False)
    except (TypeError, ValueError):
        raise read.error("constructor", "must hold plain values (no dates or times)", value) from None
    return tuple(args), dict(kwargs)


def _compare(value: Any, read: _Reader) -> tuple[Comparison, dict[str, Comparison]]:
    if isinstance(value, dict):
        methods = {}
        for method, kind in value.items():
            if not method.isidentifier():
                raise read.error("compare", f"keys must be method names ({method!r} is not)", value)
            methods[method] = _comparison(kind, read)
        return "equal", methods
    return _comparison(value, read), {}


def _comparison(value: Any, read: _Reader) -> Comparison:
    if value in COMPARISONS:
        return str(value)
    if isinstance(value, str) and ":" in value:
        return _hook(value, read, "compare")
    raise read.error(
        "compare", "must be 'equal', 'unique', a hook 'tests/file.py:function', or a table of those", value
    )


def _hook(value: str, read: _Reader, key: str) -> HookRef:
    match = HOOK_PATTERN.match(value)
    if not match:
        raise read.error(key, "must be a hook 'tests/file.py:function' or 'module:function'", value)
    file = match["file"]
    if file and (file.startswith("/") or ".." in Path(file).parts or Path(file).parts[0] not in HOOK_FOLDERS):
        raise read.error(key, f"must name a file in {' or '.join(f + '/' for f in HOOK_FOLDERS)}", value)
    return HookRef(match["function"], file=file, module=match["module"])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
