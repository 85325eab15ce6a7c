"""What the operators look for in a file: pools, locks and semaphores, bounds, batches, work submissions."""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field

from concgrade.static.mutants.model import Edit
from concgrade.static.pysource import (
    LOCK_KINDS,
    POOL_KINDS,
    ParsedSource,
    global_inits,
    size_argument,
    walk_scope,
)

SYNC_KINDS = LOCK_KINDS | {"async_lock", "async_semaphore", "async_condition"}
SEMAPHORES = frozenset({"semaphore", "async_semaphore"})
MUTEXES = frozenset({"lock", "rlock", "condition", "async_lock", "async_condition"})
# Calls that hand work to something that runs it later, elsewhere.
SUBMIT_METHODS = frozenset(
    {"submit", "apply_async", "map_async", "starmap_async", "create_task", "ensure_future", "run_in_executor"}
)
# Methods that change a container in place: a call of one is a write of its receiver.
MUTATING_METHODS = frozenset(
    {
        "append",
        "appendleft",
        "add",
        "clear",
        "discard",
        "extend",
        "insert",
        "pop",
        "popitem",
        "popleft",
        "remove",
        "setdefault",
        "update",
    }
)
Function = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Construct:
    """A call that makes a pool, lock, semaphore or queue, with the argument that sizes it."""

    call: ast.Call
    kind: str
    qualified: str
    size: ast.expr | None


@dataclass
class Facts:
    """Everything the operators ask of one file, found in one pass over it."""

    constructs: list[Construct] = field(default_factory=list)
    sync: dict[str, str] = field(default_factory=dict)  # name or `self.attr` -> kind of lock or semaphore
    pools: dict[str, Construct] = field(default_factory=dict)  # name or `self.attr` holding a pool -> its construct
    factories: dict[str, Construct] = field(default_factory=dict)  # function returning a pool -> its construct
    bounds: set[str] = field(default_factory=set)  # module constants that size a pool, semaphore or queue


_FACTS: dict[int, tuple[ParsedSource, Facts]] = {}


def facts(parsed: ParsedSource) -> Facts:
    """The facts of a parsed file, computed once per parsed object (operators share them)."""
    cached = _FACTS.get(id(parsed))
    if cached is not None and cached[0] is parsed:
        return cached[1]
    found = _gather(parsed)
    if len(_FACTS) > 64:
        _FACTS.clear()
    _FACTS[id(parsed)] = (parsed, found)
    return found


def _gather(parsed: ParsedSource) -> Facts:
    found = Facts()
    by_call: dict[int, Construct] = {}
    for call in parsed.calls():
        kind = parsed.call_kind(call)
        if kind is not None:
            construct = Construct(call, kind[0], kind[1], size_argument(call, kind[0], kind[1]))
            found.constructs.append(construct)
            by_call[id(call)] = construct
    for node in parsed.nodes:
        value, targets = _assignment(node)
        made = by_call.get(id(value)) if isinstance(value, ast.Call) else None
        if made is None:
            continue
        for target in targets:
            key = key_of(target)
            if key and made.kind in SYNC_KINDS:
                found.sync[key] = made.kind
            elif key and made.kind in POOL_KINDS:
                found.pools[key] = made
    _find_factories(parsed, found)
    found.bounds = _bound_names(parsed, found)
    return found


def _assignment(node: ast.AST) -> tuple[ast.AST | None, list[ast.expr]]:
    """(value, targets) of an assignment or a `with value as target` item; (None, []) otherwise."""
    if isinstance(node, ast.Assign):
        return node.value, list(node.targets)
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        return node.value, [node.target]
    if isinstance(node, ast.withitem) and node.optional_vars is not None:
        return node.context_expr, [node.optional_vars]
    return None, []


def _find_factories(parsed: ParsedSource, found: Facts) -> None:
    """Functions that return a pool, and the names bound to what they return (followed twice: enough for
    a factory that returns another factory's pool)."""
    for _ in range(2):
        for func in parsed.nodes:
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in walk_scope(func):
                if isinstance(node, ast.Return) and node.value is not None:
                    construct = pool_of(parsed, found, node.value)
                    if construct is not None:
                        found.factories[func.name] = construct
        for node in parsed.nodes:
            value, targets = _assignment(node)
            if isinstance(value, ast.Call):
                construct = pool_of(parsed, found, value)
                for target in targets:
                    key = key_of(target)
                    if key and construct is not None:
                        found.pools.setdefault(key, construct)


def pool_of(parsed: ParsedSource, found: Facts, expr: ast.AST) -> Construct | None:
    """The pool construct an expression evaluates to: the call itself, a name holding one, a factory's result."""
    if isinstance(expr, ast.Call):
        kind = parsed.call_kind(expr)
        if kind is not None and kind[0] in POOL_KINDS:
            return Construct(expr, kind[0], kind[1], size_argument(expr, kind[0], kind[1]))
        if isinstance(expr.func, ast.Name) and expr.func.id in found.factories:
            return found.factories[expr.func.id]
        return None
    key = key_of(expr)
    return found.pools.get(key) if key else None


def _bound_names(parsed: ParsedSource, found: Facts) -> set[str]:
    constants = set()
    for statement in parsed.tree.body:
        value, targets = _assignment(statement)
        if isinstance(value, ast.Constant) and type(value.value) is int and len(targets) == 1:
            if isinstance(targets[0], ast.Name):
                constants.add(targets[0].id)
    return {c.size.id for c in found.constructs if isinstance(c.size, ast.Name) and c.size.id in constants}


def key_of(expr: ast.AST) -> str | None:
    """`name` or `owner.attr` (one level, as `self._lock`): how a lock or pool is referred to across a file."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        return f"{expr.value.id}.{expr.attr}"
    return None


def is_multiprocessing_pool(construct: Construct) -> bool:
    return construct.qualified.startswith("multiprocessing")


def resized(construct: Construct, size: ast.expr | None) -> ast.Call:
    """A copy of the construct's call with its size argument replaced (None: left to the default)."""
    original = construct.call
    call = copy.deepcopy(original)
    for index, keyword in enumerate(original.keywords):
        if keyword.value is construct.size:
            if size is None:
                del call.keywords[index]
            else:
                call.keywords[index].value = size
            return call
    if original.args and original.args[0] is construct.size:
        if size is not None:
            call.args[0] = size
        elif len(call.args) == 1:
            call.args.pop()
        else:
            call.args[0] = ast.Constant(None)
        return call
    if size is not None:
        name = "processes" if is_multiprocessing_pool(construct) else _SIZE_KEYWORDS.get(construct.kind, "max_workers")
        call.keywords.append(ast.keyword(name, size))
    return call


def without_size(construct: Construct) -> Edit:
    """The change that leaves a construct to its default size: its size argument removed (or made None)."""
    call = construct.call
    for keyword in call.keywords:
        if keyword.value is construct.size:
            return Edit(keyword, ())
    if len(call.args) == 1:
        return Edit(call.args[0], ())
    return Edit(call.args[0], (ast.Constant(None),))


def with_size(construct: Construct, size: ast.expr) -> Edit:
    """The change that sizes a construct: its size argument replaced, or a keyword added."""
    if construct.size is not None:
        return Edit(construct.size, (size,))
    return Edit(construct.call, (resized(construct, size),))


_SIZE_KEYWORDS = {"semaphore": "value", "async_semaphore": "value", "queue": "maxsize", "async_queue": "maxsize"}


def enclosing_functions(parsed: ParsedSource, node: ast.AST) -> list[Function]:
    """The functions around `node`, innermost first."""
    return [a for a in parsed.ancestors(node) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))]


def submits_work(func: ast.AST) -> bool:
    """Whether the function (nested functions included) hands work to a pool, a loop or a task group."""
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SUBMIT_METHODS:
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SUBMIT_METHODS:
            return True
    return False


def is_submission(parsed: ParsedSource, node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    if isinstance(node.func, ast.Attribute) and node.func.attr in SUBMIT_METHODS:
        return True
    found = parsed.call_kind(node)
    return found is not None and found[0] == "async_create_task"


def sized_names(func: Function) -> list[str]:
    """Names in `func` that hold the whole batch as a sized collection, the most certain first.

    A list, tuple or sorted copy of something made in the function comes first, then parameters whose `len()`
    the function takes, then parameters annotated as a list, tuple or sequence. Other things measured (the
    containers the function fills, what a wait returned) are bookkeeping, not the batch.
    """
    made: list[str] = []
    measured: list[str] = []
    filled: set[str] = set()
    for node in walk_scope(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if _is_copy(node.value):
                made.append(node.targets[0].id)
            elif _is_container_to_fill(node.value):
                filled.add(node.targets[0].id)
        if _is_len_call(node):
            assert isinstance(node, ast.Call)
            argument = node.args[0]
            if isinstance(argument, ast.Name):
                measured.append(argument.id)
    parameters = {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}
    annotated = [a.arg for a in func.args.args if a.annotation is not None and _is_sequence_annotation(a.annotation)]
    measured = [m for m in measured if m in made or (m in parameters and m not in filled)]
    return list(dict.fromkeys([*made, *measured, *annotated]))


def _is_copy(value: ast.AST) -> bool:
    """`list(x)`, `tuple(x)`, `sorted(x)` or a list comprehension: a batch read whole."""
    if isinstance(value, ast.ListComp):
        return True
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in ("list", "tuple", "sorted")
        and len(value.args) == 1
    )


def _is_container_to_fill(value: ast.AST) -> bool:
    """An empty or placeholder container (`{}`, `[]`, `set()`, `[None] * n`): bookkeeping, not the batch."""
    if isinstance(value, (ast.Dict, ast.Set, ast.List)):
        return True
    if isinstance(value, ast.BinOp) and isinstance(value.op, ast.Mult):
        return isinstance(value.left, ast.List) or isinstance(value.right, ast.List)
    return isinstance(value, ast.Call) and isinstance(value.func, (ast.Name, ast.Attribute)) and not value.args


def _is_len_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len" and len(node.args) == 1
    )


def _is_sequence_annotation(annotation: ast.expr) -> bool:
    base = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    name = base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else ""
    return name in ("list", "List", "tuple", "Tuple", "Sequence")


def batch_of(parsed: ParsedSource, node: ast.AST) -> str | None:
    """The batch a node's function (or one around it) works on, by name, if one is plain to see."""
    for func in enclosing_functions(parsed, node):
        names = sized_names(func)
        if names:
            return names[0]
    return None


def length_of(name: str) -> ast.expr:
    return ast.Call(ast.Name("len", ast.Load()), [ast.Name(name, ast.Load())], [])


def at_least_one(expr: ast.expr) -> ast.expr:
    return ast.Call(ast.Name("max", ast.Load()), [ast.Constant(1), expr], [])


def stdlib_ref(parsed: ParsedSource, qualified: str) -> ast.expr:
    """An expression for a standard-library name through the file's own imports, else through `__import__`."""
    for local, target in parsed.aliases.items():
        if target == qualified:
            return ast.Name(local, ast.Load())
    module, _, name = qualified.rpartition(".")
    for local, target in parsed.aliases.items():
        if target == module:
            return ast.Attribute(ast.Name(local, ast.Load()), name, ast.Load())
    fromlist = ast.List([ast.Constant(name)], ast.Load())
    imported = ast.Call(ast.Name("__import__", ast.Load()), [ast.Constant(module)], [ast.keyword("fromlist", fromlist)])
    return ast.Attribute(imported, name, ast.Load())


def body_start(body: list[ast.stmt]) -> int:
    """Index of the first statement after a docstring."""
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        return 1
    return 0


def after_imports(tree: ast.Module) -> int:
    """Where a helper goes in a module: after its docstring and its leading imports."""
    index = body_start(tree.body)
    while index < len(tree.body) and isinstance(tree.body[index], (ast.Import, ast.ImportFrom)):
        index += 1
    return index


def statements(text: str) -> tuple[ast.stmt, ...]:
    """Parsed statements of a template (a helper definition, a line to insert)."""
    return tuple(ast.parse(text).body)


def expression(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


def functions_named(parsed: ParsedSource, name: str) -> Iterator[Function]:
    for node in parsed.nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            yield node


def where(parsed: ParsedSource, node: ast.AST) -> str:
    """`in f()` / `in C.m()` / `at module level`, for descriptions."""
    func = parsed.enclosing_function(node)
    return f"in {parsed.qualname(func)}()" if func is not None else "at module level"


def short(node: ast.AST, limit: int = 60) -> str:
    """Source of a node, cut to fit a one-line description."""
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def siblings(parsed: ParsedSource, statement: ast.stmt) -> tuple[list[ast.stmt], int]:
    """The statement list holding `statement`, and its index there."""
    parent = parsed.parents[statement]
    for _, value in ast.iter_fields(parent):
        if isinstance(value, list):
            for index, item in enumerate(value):
                if item is statement:
                    return value, index
    raise ValueError("not a statement of a block")


def sync_key(found: Facts, expr: ast.AST, kinds: frozenset[str] = SYNC_KINDS) -> str | None:
    """The key of a lock or semaphore an expression refers to, if it is one of `kinds`."""
    key = key_of(expr)
    return key if key is not None and found.sync.get(key) in kinds else None


def method_call(statement: ast.AST, method: str) -> ast.Call | None:
    """The call of a statement `x.method(...)` or `await x.method(...)`, else None."""
    if not isinstance(statement, ast.Expr):
        return None
    value = statement.value.value if isinstance(statement.value, ast.Await) else statement.value
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == method:
        return value
    return None


def receiver(call: ast.Call) -> ast.expr:
    assert isinstance(call.func, ast.Attribute)
    return call.func.value


def pool_factories(parsed: ParsedSource) -> Iterator[tuple[Function, ast.Call]]:
    """Functions that make a global pool on first use and return it (the lazy shared pool), with its call."""
    for init in global_inits(parsed):
        func = parsed.enclosing_function(init.call)
        if func is None:
            continue
        returns = [n for n in walk_scope(func) if isinstance(n, ast.Return) and isinstance(n.value, ast.Name)]
        if any(r.value.id == init.name for r in returns if isinstance(r.value, ast.Name)):
            yield func, init.call


def awaited_gathers(parsed: ParsedSource) -> Iterator[tuple[ast.Await, ast.Call]]:
    """Each `await asyncio.gather(...)` without keywords (return_exceptions changes what a rewrite means)."""
    for node in parsed.nodes:
        if not (isinstance(node, ast.Await) and isinstance(node.value, ast.Call)):
            continue
        kind = parsed.call_kind(node.value)
        if kind is not None and kind[0] == "async_gather" and not node.value.keywords:
            yield node, node.value


def gathered(call: ast.Call, container: type[ast.List] | type[ast.Tuple]) -> ast.expr:
    """What a gather call awaits, as one iterable: `gather(*aws)` gives `aws`, `gather(a, b)` a container."""
    if len(call.args) == 1 and isinstance(call.args[0], ast.Starred):
        return call.args[0].value
    return container(call.args, ast.Load())
