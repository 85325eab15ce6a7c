"""Thread-safe object shapes for history tests: a sequential reference, a racy refactor and a locked one of each.

The racy versions are what a refactor that forgot the lock looks like: the reference code run from
several threads. Each has a call between reading shared state and writing it back, where CPython
can switch threads (in 3.10+ a switch happens only at calls, returns and backward jumps, so `x += 1`
alone rarely loses an update). The locked versions hold one lock for the whole of each method.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODULE = "shape"  # the module name of every shape, in every implementation folder

HIT_COUNTER = """
class HitCounter:
    def __init__(self):
        self.hits = {}

    def incr(self, page):
        self.hits[page] = self.hits.get(page, 0) + 1
        return self.hits[page]

    def get(self, page):
        return self.hits.get(page, 0)
"""

HIT_COUNTER_LOCKED = """
import threading


class HitCounter:
    def __init__(self):
        self.hits = {}
        self._lock = threading.Lock()

    def incr(self, page):
        with self._lock:
            self.hits[page] = self.hits.get(page, 0) + 1
            return self.hits[page]

    def get(self, page):
        with self._lock:
            return self.hits.get(page, 0)
"""

TOKEN_BUCKET = """
class TokenBucket:
    def __init__(self, capacity):
        self.capacity = capacity
        self.tokens = capacity

    def take(self):
        if self.tokens > 0:
            self.tokens -= 1
            return True
        return False

    def refill(self, amount):
        self.tokens = min(self.capacity, self.tokens + amount)
        return self.tokens
"""

TOKEN_BUCKET_LOCKED = """
import threading


class TokenBucket:
    def __init__(self, capacity):
        self.capacity = capacity
        self.tokens = capacity
        self._lock = threading.Lock()

    def take(self):
        with self._lock:
            if self.tokens > 0:
                self.tokens -= 1
                return True
            return False

    def refill(self, amount):
        with self._lock:
            self.tokens = min(self.capacity, self.tokens + amount)
            return self.tokens
"""

CACHE = """
class Cache:
    def __init__(self):
        self.values = {}
        self.computed = {}

    def get_or_compute(self, key):
        if key not in self.values:
            self.values[key] = self._compute(key)
        return self.values[key]

    def invalidate(self, key):
        self.values.pop(key, None)

    def _compute(self, key):
        count = self.computed.get(key, 0) + 1
        self.computed[key] = count
        return f"{key}#{count}"
"""

CACHE_LOCKED = """
import threading


class Cache:
    def __init__(self):
        self.values = {}
        self.computed = {}
        self._lock = threading.Lock()

    def get_or_compute(self, key):
        with self._lock:
            if key not in self.values:
                self.values[key] = self._compute(key)
            return self.values[key]

    def invalidate(self, key):
        with self._lock:
            self.values.pop(key, None)

    def _compute(self, key):
        count = self.computed.get(key, 0) + 1
        self.computed[key] = count
        return f"{key}#{count}"
"""

ID_GENERATOR = """
class IdGenerator:
    def __init__(self):
        self.next = 1
        self.issued = []

    def next_id(self):
        ident = self.next
        self.issued.append(ident)
        self.next = ident + 1
        return ident
"""

ID_GENERATOR_LOCKED = """
import threading


class IdGenerator:
    def __init__(self):
        self.next = 1
        self.issued = []
        self._lock = threading.Lock()

    def next_id(self):
        with self._lock:
            ident = self.next
            self.issued.append(ident)
            self.next = ident + 1
            return ident
"""


@dataclass(frozen=True)
class Shape:
    name: str
    sequential: str  # the reference (before); the racy refactor is the same code run from threads
    locked: str
    target: str
    operations: list[dict[str, Any]]
    constructor: dict[str, Any] = field(default_factory=dict)
    compare: dict[str, Any] = field(default_factory=lambda: {"default": "equal", "methods": {}})
    partition_by: int | None = None
    threads: int = 4
    operations_per_thread: int = 50

    def source(self, variant: str) -> str:
        """variant: "before" (the reference), "racy" or "locked"."""
        return self.locked if variant == "locked" else self.sequential

    def spec(self, seed: int, stress: bool = True, module: str = MODULE, **overrides: Any) -> dict[str, Any]:
        """The driver's (and the model server's) spec of this shape."""
        spec = {
            "name": self.name,
            "target": f"{module}:{self.target}",
            "object": True,
            "constructor": {"args": [], "kwargs": {}, **self.constructor},
            "operations": self.operations,
            "operations_hook": None,
            "threads": self.threads,
            "operations_per_thread": self.operations_per_thread,
            "asyncio": False,
            "stress": stress,
            "seed": seed,
            "timeout_seconds": 60,
            "hook_paths": [],
            "compare": self.compare,
            "partition_by": self.partition_by,
            "budget_seconds": 30,
        }
        return {**spec, **overrides}


SHAPES = {
    shape.name: shape
    for shape in (
        Shape(
            "hit-counter",
            HIT_COUNTER,
            HIT_COUNTER_LOCKED,
            "HitCounter",
            [
                {"method": "incr", "args": ["page:choice(a,b)"], "weight": 3},
                {"method": "get", "args": ["page:choice(a,b)"]},
            ],
            partition_by=0,
        ),
        Shape(
            "token-bucket",
            TOKEN_BUCKET,
            TOKEN_BUCKET_LOCKED,
            "TokenBucket",
            [{"method": "take", "args": [], "weight": 3}, {"method": "refill", "args": ["int(1,2)"]}],
            constructor={"args": [3]},
        ),
        Shape(
            "cache",
            CACHE,
            CACHE_LOCKED,
            "Cache",
            [
                {"method": "get_or_compute", "args": ["key:choice(a,b)"], "weight": 3},
                {"method": "invalidate", "args": ["key:choice(a,b)"]},
            ],
            partition_by=0,
        ),
        Shape(
            "id-generator",
            ID_GENERATOR,
            ID_GENERATOR_LOCKED,
            "IdGenerator",
            [{"method": "next_id", "args": []}],
            compare={"default": "unique", "methods": {}},
        ),
    )
}


def manifest_entry(shape: Shape, module: str = MODULE, **extra: Any) -> dict[str, Any]:
    """The shape as a task would declare it in [[histories]]."""
    entry: dict[str, Any] = {
        "name": shape.name,
        "target": f"{module}:{shape.target}",
        "operations": shape.operations,
        "threads": shape.threads,
        "operations_per_thread": shape.operations_per_thread,
    }
    if shape.constructor:
        entry["constructor"] = shape.constructor
    if shape.partition_by is not None:
        entry["partition_by"] = shape.partition_by
    if shape.compare["default"] != "equal":
        entry["compare"] = shape.compare["default"]
    return {**entry, **extra}


def write_shape(folder: Path, shape: Shape, variant: str, module: str = MODULE) -> Path:
    """An implementation folder holding the shape's module; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(shape.source(variant).lstrip(), encoding="utf-8")
    return folder


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


# A fixture task per shape: before is the sequential reference; after is the locked refactor, or the racy one,
# which makes a lock and forgets to take it (so the weak suite that looks for a lock passes on it).
TASK_MANIFEST = """\
[task]
name = "{name}"
modules = ["{module}"]

[suites]
PASS_TO_PASS = ["tests/test_sequential.py"]
FAIL_TO_PASS = ["tests/test_thread_safe.py"]

[limits]
test_timeout = 20
run_timeout = 120

{histories}
"""

SEQUENTIAL_TEST = """\
import {module}


def test_one_thread_gets_the_reference_answers():
    subject = {module}.{target}({constructor})
    assert type(subject).__name__ == "{target}"
"""

THREAD_SAFE_TEST = """\
import threading

import {module}


def test_the_object_holds_a_lock():
    subject = {module}.{target}({constructor})
    assert isinstance(getattr(subject, "_lock", None), type(threading.Lock()))
"""


def racy_with_lock(source: str) -> str:
    """The sequential source with a lock made in __init__ and never taken: the refactor that forgot it."""
    lines = source.strip("\n").splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("def __init__"))
    lines.insert(at + 1, "        self._lock = threading.Lock()  # made, never taken")
    return "import threading\n\n" + "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    """A TOML literal for the plain data a [[histories]] table holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + " }"
    raise TypeError(value)


def histories_toml(entries: list[dict[str, Any]]) -> str:
    return "\n".join(
        "[[histories]]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in entry.items())
        for entry in entries
    )


def make_history_task(root: Path, shape: Shape, variant: str, **history: Any) -> Path:
    """A task whose after is `variant` ("racy" or "locked") of `shape`, declaring the shape as a history."""
    constructor = ", ".join(repr(arg) for arg in shape.constructor.get("args", []))
    fill = {"module": MODULE, "target": shape.target, "constructor": constructor}
    after = racy_with_lock(shape.sequential) if variant == "racy" else shape.locked.lstrip()
    files = {
        f"repository_before/{MODULE}.py": shape.sequential.lstrip(),
        f"repository_after/{MODULE}.py": after,
        "tests/test_sequential.py": SEQUENTIAL_TEST.format(**fill),
        "tests/test_thread_safe.py": THREAD_SAFE_TEST.format(**fill),
        "evaluation/concgrade.toml": TASK_MANIFEST.format(
            name=root.name, module=MODULE, histories=histories_toml([manifest_entry(shape, **history)])
        ),
        "README.md": f"# {shape.name}, {variant}\n",
        "Dockerfile": "FROM python:3.11-slim\n",
        "trajectory/001_refactor.md": "# Refactor\n\nMake it safe to share between threads.\n",
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
