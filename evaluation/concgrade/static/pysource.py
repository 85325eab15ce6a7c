"""Parsed Python source with import-alias resolution and scope queries, shared by metrics and rules."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

# Stdlib concurrency APIs by resolved qualified name -> construct kind.
CONSTRUCT_KINDS: dict[str, str] = {
    "concurrent.futures.ThreadPoolExecutor": "executor",
    "concurrent.futures.thread.ThreadPoolExecutor": "executor",
    "multiprocessing.pool.ThreadPool": "executor",
    "multiprocessing.dummy.Pool": "executor",
    "concurrent.futures.ProcessPoolExecutor": "process_pool",
    "concurrent.futures.process.ProcessPoolExecutor": "process_pool",
    "multiprocessing.Pool": "process_pool",
    "multiprocessing.pool.Pool": "process_pool",
    "threading.Thread": "thread",
    "threading.Timer": "thread",
    "_thread.start_new_thread": "thread",
    "multiprocessing.Process": "process",
    "threading.Lock": "lock",
    "multiprocessing.Lock": "lock",
    "_thread.allocate_lock": "lock",
    "threading.RLock": "rlock",
    "multiprocessing.RLock": "rlock",
    "threading.Semaphore": "semaphore",
    "threading.BoundedSemaphore": "semaphore",
    "multiprocessing.Semaphore": "semaphore",
    "multiprocessing.BoundedSemaphore": "semaphore",
    "threading.Condition": "condition",
    "multiprocessing.Condition": "condition",
    "threading.Event": "event",
    "multiprocessing.Event": "event",
    "threading.Barrier": "barrier",
    "multiprocessing.Barrier": "barrier",
    "queue.Queue": "queue",
    "queue.LifoQueue": "queue",
    "queue.PriorityQueue": "queue",
    "queue.SimpleQueue": "queue",
    "multiprocessing.Queue": "queue",
    "multiprocessing.JoinableQueue": "queue",
    "multiprocessing.SimpleQueue": "queue",
    "asyncio.gather": "async_gather",
    "asyncio.create_task": "async_create_task",
    "asyncio.ensure_future": "async_create_task",
    "asyncio.Semaphore": "async_semaphore",
    "asyncio.BoundedSemaphore": "async_semaphore",
    "asyncio.Queue": "async_queue",
    "asyncio.LifoQueue": "async_queue",
    "asyncio.PriorityQueue": "async_queue",
    "asyncio.TaskGroup": "async_task_group",
    "asyncio.to_thread": "async_to_thread",
    "asyncio.Lock": "async_lock",
    "asyncio.Event": "async_event",
    "asyncio.Condition": "async_condition",
    "concurrent.futures.wait": "wait",
    "asyncio.wait": "wait",
    "concurrent.futures.as_completed": "as_completed",
    "asyncio.as_completed": "as_completed",
}

# Methods of objects we cannot resolve statically (an event loop, a TaskGroup) that still name a construct.
METHOD_KINDS: dict[str, str] = {"run_in_executor": "run_in_executor", "create_task": "async_create_task"}

POOL_KINDS = frozenset({"executor", "process_pool"})
LOCK_KINDS = frozenset({"lock", "rlock", "condition", "semaphore"})
QUEUE_KINDS = frozenset({"queue", "async_queue"})
SEMAPHORE_KINDS = frozenset({"semaphore", "async_semaphore"})

# Positional index and keyword of the argument that sizes or bounds a construct.
_SIZE_ARGUMENT: dict[str, tuple[int, str]] = {
    "executor": (0, "max_workers"),
    "process_pool": (0, "max_workers"),
    "semaphore": (0, "value"),
    "async_semaphore": (0, "value"),
    "queue": (0, "maxsize"),
    "async_queue": (0, "maxsize"),
    "barrier": (0, "parties"),
}
# multiprocessing pools name their size "processes", not "max_workers".
_POOL_KEYWORD = {"multiprocessing.Pool", "multiprocessing.pool.Pool", "multiprocessing.pool.ThreadPool"}
_POOL_KEYWORD |= {"multiprocessing.dummy.Pool"}

# `from m import *` of these modules binds the catalogue's names too.
_STAR_MODULES = ("threading", "queue", "asyncio", "concurrent.futures", "multiprocessing", "time")

FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.Module)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class GlobalInit:
    """An assignment of a pool to a module global inside a function (the lazy-singleton shape)."""

    name: str
    function: str
    line: int
    call: ast.Call
    checked: bool  # an `if` on the global encloses the assignment
    guarded: bool  # that check and the assignment run under a module lock


@dataclass
class ParsedSource:
    """One parsed file: its tree, each node's parent, and the names its imports bind."""

    path: str
    text: str
    tree: ast.Module
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    star_modules: tuple[str, ...] = ()
    nodes: list[ast.AST] = field(default_factory=list)  # every node, in ast.walk order, walked once
    _calls: list[ast.Call] = field(default_factory=list)
    _global_inits: list[GlobalInit] | None = None

    @classmethod
    def parse(cls, path: str, text: str) -> ParsedSource:
        """Parse `text`; raises SyntaxError (or ValueError for null bytes on old Pythons).

        The result is shared by every caller with the same path and text (metrics and rules parse the same
        files), so treat it as read-only.
        """
        return _parse_cached(path, text)

    @classmethod
    def _build(cls, path: str, text: str) -> ParsedSource:
        tree = ast.parse(text, filename=path)
        parsed = cls(path=path, text=text, tree=tree)
        for node in ast.walk(tree):
            parsed.nodes.append(node)
            for child in ast.iter_child_nodes(node):
                parsed.parents[child] = node
        parsed._calls = [n for n in parsed.nodes if isinstance(n, ast.Call)]
        parsed._bind_imports()
        return parsed

    def _bind_imports(self) -> None:
        stars: list[str] = []
        for node in self.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        self.aliases[top] = top
            elif isinstance(node, ast.ImportFrom):
                base = "." * node.level + (node.module or "")
                for alias in node.names:
                    if alias.name == "*":
                        stars.append(base)
                        continue
                    qualified = f"{base}.{alias.name}" if not base.endswith(".") else base + alias.name
                    self.aliases[alias.asname or alias.name] = qualified
        self.star_modules = tuple(m for m in stars if m in _STAR_MODULES)
        self._bind_assignments()

    def _bind_assignments(self) -> None:
        """Follow `TPE = cf.ThreadPoolExecutor`, `ctx = mp.get_context()` and `class W(Thread)` aliases."""
        for node in self.nodes:
            if isinstance(node, ast.ClassDef):
                for base in node.bases:
                    qualified = self.resolve(base)
                    if qualified in CONSTRUCT_KINDS:
                        self.aliases.setdefault(node.name, qualified)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and target.id not in self.aliases:
                    qualified = self.resolve(node.value)
                    if qualified and (qualified in CONSTRUCT_KINDS or qualified == "multiprocessing"):
                        self.aliases[target.id] = qualified

    def resolve(self, expr: ast.AST) -> str | None:
        """Qualified name an expression refers to through imports, e.g. `TPE` -> `concurrent.futures...`."""
        if isinstance(expr, ast.Name):
            if expr.id in self.aliases:
                return self.aliases[expr.id]
            for module in self.star_modules:
                if f"{module}.{expr.id}" in CONSTRUCT_KINDS or (module, expr.id) == ("time", "sleep"):
                    return f"{module}.{expr.id}"
            return None
        if isinstance(expr, ast.Attribute):
            base = self.resolve(expr.value)
            return f"{base}.{expr.attr}" if base else None
        if isinstance(expr, ast.Call) and self.resolve(expr.func) == "multiprocessing.get_context":
            # A context object offers the same constructors as the module.
            return "multiprocessing"
        return None

    def call_kind(self, call: ast.Call) -> tuple[str, str] | None:
        """(kind, qualified name) of a call to a catalogued construct, or None."""
        qualified = self.resolve(call.func)
        if qualified in CONSTRUCT_KINDS:
            return CONSTRUCT_KINDS[qualified], qualified
        if qualified and qualified.startswith("multiprocessing.context."):
            short = "multiprocessing." + qualified.rsplit(".", 1)[1]
            if short in CONSTRUCT_KINDS:
                return CONSTRUCT_KINDS[short], short
        if qualified is None and isinstance(call.func, ast.Attribute) and call.func.attr in METHOD_KINDS:
            return METHOD_KINDS[call.func.attr], f"<object>.{call.func.attr}"
        return None

    def calls(self) -> list[ast.Call]:
        return self._calls

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        while node in self.parents:
            node = self.parents[node]
            yield node

    def enclosing_function(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        for ancestor in self.ancestors(node):
            if isinstance(ancestor, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return ancestor
        return None

    def qualname(self, func: ast.AST | None) -> str | None:
        """Dotted name of a def, with its enclosing classes and functions (`Service.notify.worker`)."""
        if func is None:
            return None
        names = [func.name] if hasattr(func, "name") else ["<lambda>"]
        for ancestor in self.ancestors(func):
            if isinstance(ancestor, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(ancestor.name)
        return ".".join(reversed(names))

    def enclosing_loop(self, node: ast.AST) -> ast.AST | None:
        """Innermost loop or comprehension in which `node` runs once per iteration, within its scope."""
        child = node
        for parent in self.ancestors(node):
            if isinstance(parent, SCOPE_NODES):
                return None
            if _repeats(parent, child):
                return parent
            child = parent
        return None

    def within(self, node: ast.AST, kinds: tuple[type, ...], stop_at_scope: bool = True) -> Iterator[ast.AST]:
        """Ancestors of `node` of the given types, up to its function or class."""
        for ancestor in self.ancestors(node):
            if stop_at_scope and isinstance(ancestor, SCOPE_NODES):
                return
            if isinstance(ancestor, kinds):
                yield ancestor


def _repeats(parent: ast.AST, child: ast.AST) -> bool:
    """Whether `child` is evaluated once per iteration of `parent` (the iterable and `else` run once)."""
    if isinstance(parent, (ast.For, ast.AsyncFor)):
        return child in parent.body
    if isinstance(parent, ast.While):
        return child in parent.body or child is parent.test
    if isinstance(parent, COMPREHENSIONS):
        if child in getattr(parent, "generators", ()):
            return parent.generators.index(child) > 0  # type: ignore[arg-type]  # child is a comprehension here
        return True
    if isinstance(parent, ast.comprehension):
        return child is not parent.iter
    return False


def walk_scope(node: ast.AST) -> Iterator[ast.AST]:
    """Walk a subtree without entering nested functions, lambdas or classes (their code runs elsewhere)."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        current = stack.pop()
        yield current
        if not isinstance(current, (*FUNCTION_NODES, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(current))


def size_argument(call: ast.Call, kind: str, qualified: str) -> ast.expr | None:
    """The expression that sizes a pool or bounds a queue or semaphore, if given."""
    if kind not in _SIZE_ARGUMENT:
        return None
    index, keyword = _SIZE_ARGUMENT[kind]
    if qualified in _POOL_KEYWORD:
        keyword = "processes"
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    if len(call.args) > index and not isinstance(call.args[index], ast.Starred):
        return call.args[index]
    return None


def is_bounded(call: ast.Call, kind: str, qualified: str) -> bool | None:
    """Queues: a maxsize above zero is given. Semaphores: a BoundedSemaphore. Other kinds: None."""
    if kind in QUEUE_KINDS:
        if qualified.endswith("SimpleQueue"):
            return False
        size = size_argument(call, kind, qualified)
        if size is None:
            return False
        if isinstance(size, ast.Constant) and isinstance(size.value, (int, float)):
            return size.value > 0  # Queue(0) and negative sizes mean "infinite" in the stdlib.
        return True
    if kind in SEMAPHORE_KINDS:
        return qualified.endswith("BoundedSemaphore")
    return None


@functools.lru_cache(maxsize=32)
def _parse_cached(path: str, text: str) -> ParsedSource:
    return ParsedSource._build(path, text)


def module_lock_names(parsed: ParsedSource) -> set[str]:
    """Module-level names bound to a lock-like construct (Lock, RLock, Condition, Semaphore)."""
    names: set[str] = set()
    for stmt in parsed.tree.body:
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and isinstance(stmt.value, ast.Call):
            found = parsed.call_kind(stmt.value)
            if found and found[0] in LOCK_KINDS:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def global_inits(parsed: ParsedSource) -> list[GlobalInit]:
    """Pools assigned to a `global` name inside a function, with whether the check-then-act is locked."""
    if parsed._global_inits is None:
        parsed._global_inits = _find_global_inits(parsed)
    return parsed._global_inits


def _find_global_inits(parsed: ParsedSource) -> list[GlobalInit]:
    locks = module_lock_names(parsed)
    inits: list[GlobalInit] = []
    for func in parsed.nodes:
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        declared = {name for node in walk_scope(func) if isinstance(node, ast.Global) for name in node.names}
        for node in walk_scope(func):
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
                continue
            found = parsed.call_kind(node.value)
            names = [t.id for t in node.targets if isinstance(t, ast.Name) and t.id in declared]
            if not found or found[0] not in POOL_KINDS or not names:
                continue
            checked, guarded = _lazy_guard(parsed, node, names[0], locks)
            inits.append(GlobalInit(names[0], parsed.qualname(func) or "", node.lineno, node.value, checked, guarded))
    return inits


def _lazy_guard(parsed: ParsedSource, assign: ast.Assign, name: str, locks: set[str]) -> tuple[bool, bool]:
    """(checked, guarded): an `if` on `name` encloses the assignment, and a lock encloses that `if`."""
    checked = False
    for ancestor in parsed.within(assign, (ast.If, ast.With, ast.Try)):
        if isinstance(ancestor, ast.If) and _mentions(ancestor.test, name):
            checked = True
        elif (
            checked and isinstance(ancestor, ast.With) and any(_is_lock(i.context_expr, locks) for i in ancestor.items)
        ):
            return True, True
        elif checked and isinstance(ancestor, ast.Try) and _releases_lock(ancestor, locks):
            return True, True
    return checked, False


def _mentions(expr: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(expr))


def _is_lock(expr: ast.AST, locks: set[str]) -> bool:
    return isinstance(expr, ast.Name) and expr.id in locks


def _releases_lock(node: ast.Try, locks: set[str]) -> bool:
    """`lock.acquire(); try: ... finally: lock.release()` guards the try body."""
    for stmt in node.finalbody:
        for call in ast.walk(stmt):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "release":
                if _is_lock(call.func.value, locks):
                    return True
    return False
