"""What the recording and the replay of a declared history share: argument generators, hooks, plain answers.

Runs inside the process under test (and in the checking process beside the model): standard library only.

Arguments of a declared operation are literal values, or strings in a small generator language,
drawn from one seed so that a run is replayed exactly by its seed:

    "choice(a,b,c)"      one of the listed values (numbers become numbers; quote a word to keep it text)
    "int(1,5)"           a whole number from 1 to 5
    "bool()"             true or false
    "unique()"           a whole number no other operation of the run gets
    "key:choice(a,b)"    the same, with a label saying what the argument is (for people; ignored)
    "=choice(a)"         the text "choice(a)" itself: a leading "=" makes any string literal
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import math
import random
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENERATOR = re.compile(r"^(?:(?P<label>[A-Za-z_]\w*):)?(?P<name>[A-Za-z_]\w*)\((?P<params>.*)\)$", re.DOTALL)
UNIQUE_BASE = 1_000_001  # unique() values start here: far from the small numbers other generators draw
TEXT_LIMIT = 500  # characters kept of an exception's message


class SpecError(ValueError):
    """A declared argument or hook that cannot be used (the manifest reader turns it into a TaskError)."""


Call = tuple[str, list[Any]]  # (method name, or "" to call a function target; the arguments)


@dataclass(frozen=True)
class Generator:
    name: str  # choice, int, bool or unique
    params: tuple[Any, ...]
    label: str | None = None

    def draw(self, rng: random.Random, fresh: Iterator[int]) -> Any:
        if self.name == "choice":
            return rng.choice(self.params)
        if self.name == "int":
            return rng.randint(self.params[0], self.params[1])
        if self.name == "bool":
            return rng.random() < 0.5
        return next(fresh)


def parse_argument(value: Any) -> Any:
    """A declared argument: a Generator for generator syntax, else the literal value."""
    if not isinstance(value, str):
        return value
    if value.startswith("="):
        return value[1:]
    match = GENERATOR.match(value)
    if not match:
        return value
    name, label = match["name"], match["label"]
    params = _params(match["params"])
    if name == "choice":
        if not params:
            raise SpecError(f"{value!r}: choice() needs at least one value, e.g. choice(a,b,c)")
    elif name == "int":
        if len(params) != 2 or not all(_is_int(p) for p in params) or params[0] > params[1]:
            raise SpecError(f"{value!r}: int() takes two whole numbers, the least and the greatest, e.g. int(0,9)")
    elif name in ("bool", "unique"):
        if params:
            raise SpecError(f"{value!r}: {name}() takes no values")
    else:
        raise SpecError(f"{value!r}: no generator {name}(); use choice, int, bool or unique (or '=' for a literal)")
    return Generator(name, params, label)


def _params(text: str) -> tuple[Any, ...]:
    """Comma-separated values; a comma inside quotes belongs to its value."""
    if not text.strip():
        return ()
    items, current, quote = [], "", ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            items.append(current)
            current = ""
            continue
        current += char
    if quote:
        raise SpecError(f"({text}): a quote is not closed")
    return tuple(_param(item.strip()) for item in [*items, current])


def _param(item: str) -> Any:
    if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
        return item[1:-1]
    for kind in (int, float):
        try:
            number = kind(item)
        except ValueError:
            continue
        return number if math.isfinite(number) else item
    return {"true": True, "false": False}.get(item, item)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def thread_random(seed: int, client: int) -> random.Random:
    """The random source of one thread's operations: the same seed and thread give the same operations."""
    return random.Random(seed * 1_000_003 + client)


def plan_calls(spec: Mapping[str, Any], operations_hook: Callable[..., Any] | None = None) -> list[list[Call]]:
    """Every thread's calls, drawn up front from the seed (no randomness is left for the run itself)."""
    threads, count, seed = int(spec["threads"]), int(spec["operations_per_thread"]), int(spec["seed"])
    fresh = itertools.count(UNIQUE_BASE)
    plans = []
    for client in range(threads):
        rng = thread_random(seed, client)
        if operations_hook is not None:
            plans.append([_hook_call(made) for made in itertools.islice(operations_hook(rng, client, count), count)])
            continue
        declared = [
            (entry.get("method") or "", [parse_argument(a) for a in entry.get("args", [])])
            for entry in spec["operations"]
        ]
        weights = [int(entry.get("weight", 1)) for entry in spec["operations"]]
        plans.append([_draw(rng.choices(declared, weights)[0], rng, fresh) for _ in range(count)])
    return plans


def _draw(declared: tuple[str, list[Any]], rng: random.Random, fresh: Iterator[int]) -> Call:
    method, args = declared
    return method, [arg.draw(rng, fresh) if isinstance(arg, Generator) else arg for arg in args]


def _hook_call(made: Any) -> Call:
    """One operation an operations hook yielded: (method, args), or {"method": ..., "args": [...]}."""
    if isinstance(made, Mapping):
        method, args = made.get("method"), made.get("args", [])
    elif isinstance(made, (tuple, list)) and len(made) == 2:
        method, args = made
    else:
        raise SpecError(f"an operations hook must yield (method, args) pairs, not {made!r}")
    if not (method is None or isinstance(method, str)) or not isinstance(args, (list, tuple)):
        raise SpecError(f"an operations hook must yield (method, args) pairs, not {made!r}")
    return method or "", list(args)


def load_hook(reference: Mapping[str, str], hook_paths: list[str]) -> Callable[..., Any]:
    """A task's hook: {"file": path, "function": name}, or {"module": name, "function": name} in the hook folders."""
    for folder in hook_paths:
        if folder not in sys.path:
            sys.path.append(folder)  # after the implementation's own path: a hook never shadows it
    if reference.get("file"):
        path = Path(reference["file"])
        name = f"concgrade_hook_{path.stem}"
        module = sys.modules.get(name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise SpecError(f"{path}: not a Python file")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module  # registered first, as an import would (pickling finds its classes)
            loader_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(reference["module"])
    hook: Callable[..., Any] | None = getattr(module, reference["function"], None)
    if not callable(hook):
        raise SpecError(f"{reference}: no function {reference['function']}")
    return hook


def resolve_target(reference: str) -> Any:
    """'module:attribute.path' -> the object it names, imported from the implementation under test."""
    module_name, _, path = reference.partition(":")
    found: Any = importlib.import_module(module_name)
    for name in path.split("."):
        found = getattr(found, name)
    return found


def plain(value: Any, depth: int = 0) -> Any:
    """An answer as JSON-ready data, the same for the recorded run and the model (so equality means something).

    Tuples become lists, sets sorted lists, mapping keys text; other objects their attributes with
    their type's name, or their repr without memory addresses.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if depth > 20:
        return "…"
    if isinstance(value, (list, tuple)):
        return [plain(item, depth + 1) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(item, depth + 1) for item in value), key=repr)
    if isinstance(value, Mapping):
        return {str(key): plain(item, depth + 1) for key, item in value.items()}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    fields = getattr(value, "__dict__", None)
    if isinstance(fields, dict) and not callable(value):
        return {"type": type(value).__qualname__, **{str(k): plain(v, depth + 1) for k, v in fields.items()}}
    return {"type": type(value).__qualname__, "repr": re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))}


def exception_name(exc: BaseException) -> str:
    return type(exc).__qualname__


def exception_text(exc: BaseException) -> str:
    return str(exc)[:TEXT_LIMIT]
