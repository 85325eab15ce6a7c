"""Lifecycle mutants: work not waited for, workers started at import, and a sleep that throttles the work."""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator

from concgrade.static.mutants.model import Change, Edit, Insert, Mutation, operator
from concgrade.static.mutants.targets import (
    Function,
    body_start,
    facts,
    functions_named,
    is_multiprocessing_pool,
    key_of,
    method_call,
    pool_factories,
    pool_of,
    receiver,
    short,
    stdlib_ref,
    where,
)
from concgrade.static.pysource import POOL_KINDS, ParsedSource

# Seconds the inserted sleep of CM804 costs each item: enough that a timed workload sees it, not enough to
# trip a test's timeout.
THROTTLE = 0.05
_WORK_METHODS = frozenset(
    {"submit", "map", "imap", "imap_unordered", "apply_async", "map_async", "starmap", "starmap_async"}
)
_WAIT_FUNCTIONS = frozenset({"concurrent.futures.wait", "asyncio.wait"})


def _removal(parsed: ParsedSource, statement: ast.stmt) -> ast.stmt:
    """The statement to take away with `statement`: a `for` loop that does nothing else goes along."""
    loop = parsed.parents.get(statement)
    if isinstance(loop, (ast.For, ast.AsyncFor)) and loop.body == [statement] and not loop.orelse:
        return loop
    return statement


def _waits(parsed: ParsedSource) -> Iterator[tuple[ast.stmt, tuple[ast.AST, ...], str]]:
    """(statement, what replaces it, what it waited with) for each join, wait or awaited statement."""
    conditions = {k for k, kind in facts(parsed).sync.items() if kind in ("condition", "async_condition")}
    for node in parsed.nodes:
        if not isinstance(node, ast.Expr):
            continue
        if isinstance(node.value, ast.Await):
            awaited = node.value.value
            if isinstance(awaited, ast.Call) and parsed.resolve(awaited.func) == "asyncio.sleep":
                continue
            yield node, (ast.Expr(awaited),), "await"
            continue
        join = method_call(node, "join")
        if join is not None and not isinstance(receiver(join), (ast.Constant, ast.JoinedStr)):
            if not (parsed.resolve(receiver(join)) or "").startswith("os"):
                yield node, (), "join()"
            continue
        wait = method_call(node, "wait")
        if wait is not None and key_of(receiver(wait)) not in conditions:
            yield node, (), "wait()"
            continue
        if isinstance(node.value, ast.Call) and parsed.resolve(node.value.func) in _WAIT_FUNCTIONS:
            yield node, (), "wait()"


@operator(
    "CM801-no-join",
    "a join, wait or await of the work is taken away (`await x` keeps x, unawaited)",
    "the call returns only once its work is done: nothing may still be running or unfinished behind it",
)
def no_join(parsed: ParsedSource) -> Iterator[Mutation]:
    for statement, replacement, what in _waits(parsed):
        target = _removal(parsed, statement) if not replacement else statement
        description = f"{what} in {short(statement)} {where(parsed, statement)} taken away"
        yield Mutation(statement.lineno, description, (Edit(target, replacement),))


@operator(
    "CM802-shutdown-no-wait",
    "a pool's shutdown no longer waits for its work (`shutdown(wait=False)`, also for a `with` block's end)",
    "the call returns only once its work is done: shutting the pool down waits for what runs on it",
)
def shutdown_no_wait(parsed: ParsedSource) -> Iterator[Mutation]:
    found = facts(parsed)
    for node in parsed.nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "shutdown":
            change = _no_wait(node)
            if change is not None:
                yield Mutation(node.lineno, f"{short(node)} {where(parsed, node)} does not wait", (change,))
        elif isinstance(node, ast.With) and len(node.items) == 1 and node.items[0].optional_vars is not None:
            construct = pool_of(parsed, found, node.items[0].context_expr)
            name = node.items[0].optional_vars
            if construct is None or is_multiprocessing_pool(construct) or not isinstance(name, ast.Name):
                continue
            shutdown = ast.parse(f"{name.id}.shutdown(wait=False)").body
            opened = ast.Assign([copy.deepcopy(name)], node.items[0].context_expr)
            guarded = ast.Try(node.body, [], [], shutdown)
            description = f"`with {short(node.items[0].context_expr)}` {where(parsed, node)} ends without waiting"
            yield Mutation(node.lineno, description, (Edit(node, (opened, guarded)),))


def _no_wait(call: ast.Call) -> Change | None:
    for keyword in call.keywords:
        if keyword.arg == "wait":
            if isinstance(keyword.value, ast.Constant) and keyword.value.value is False:
                return None
            return Edit(keyword.value, (ast.Constant(False),))
    if call.args:
        first = call.args[0]
        if isinstance(first, ast.Constant) and first.value is False:
            return None
        return Edit(first, (ast.Constant(False),))
    widened = copy.deepcopy(call)
    widened.keywords.append(ast.keyword("wait", ast.Constant(False)))
    return Edit(call, (widened,))


@operator(
    "CM803-threads-at-import",
    "the shared pool is made, and its first worker started, when the module is imported",
    "importing the module starts no thread or process: they would not survive os.fork and run before asked for",
)
def threads_at_import(parsed: ParsedSource) -> Iterator[Mutation]:
    end = len(parsed.tree.body)
    for factory, call in pool_factories(parsed):
        if parsed.parents.get(factory) is not parsed.tree:
            continue  # a method or nested factory cannot be called by name at module level
        kind = parsed.call_kind(call)
        starts = f"{factory.name}()" if kind and kind[0] == "process_pool" else f"{factory.name}().submit(int)"
        description = f"{factory.name}() is called at import and starts its workers"
        yield Mutation(factory.lineno, description, (Insert(parsed.tree, "body", end, tuple(ast.parse(starts).body)),))
    for statement in parsed.tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            kind = parsed.call_kind(statement.value) if isinstance(statement.value, ast.Call) else None
            name = statement.targets[0]
            if kind and kind[0] in POOL_KINDS and kind[0] != "process_pool" and isinstance(name, ast.Name):
                started = tuple(ast.parse(f"{name.id}.submit(int)").body)
                description = f"the module's {name.id} starts a worker at import"
                yield Mutation(statement.lineno, description, (Insert(parsed.tree, "body", end, started),))


def _work_functions(parsed: ParsedSource) -> Iterator[Function]:
    """Functions handed to a pool, a loop's executor or a thread as the work to run, each once."""
    found = facts(parsed)
    seen: set[int] = set()
    for call in parsed.calls():
        work: ast.expr | None = None
        if isinstance(call.func, ast.Attribute) and call.func.attr in _WORK_METHODS and call.args:
            if pool_of(parsed, found, call.func.value) is not None:
                work = call.args[0]
        elif isinstance(call.func, ast.Attribute) and call.func.attr == "run_in_executor" and len(call.args) > 1:
            work = call.args[1]
        else:
            kind = parsed.call_kind(call)
            if kind is not None and kind[0] in ("thread", "process"):
                work = next((k.value for k in call.keywords if k.arg == "target"), None)
        func = _definition(parsed, call, work) if work is not None else None
        if func is not None and id(func) not in seen and isinstance(func, ast.FunctionDef):
            seen.add(id(func))
            yield func


def _definition(parsed: ParsedSource, call: ast.Call, work: ast.expr) -> Function | None:
    if isinstance(work, ast.Name):
        return next(functions_named(parsed, work.id), None)
    if isinstance(work, ast.Attribute) and isinstance(work.value, ast.Name) and work.value.id in ("self", "cls"):
        owner = next((a for a in parsed.ancestors(call) if isinstance(a, ast.ClassDef)), None)
        if owner is not None:
            return next((f for f in owner.body if isinstance(f, ast.FunctionDef) and f.name == work.attr), None)
    return None


@operator(
    "CM804-throttle-sleep",
    f"a {THROTTLE} s sleep is inserted into the work (each pass of a worker's loop, or each call)",
    "the refactor exists for its speed: work that waits for nothing must not be slowed down",
)
def throttle_sleep(parsed: ParsedSource) -> Iterator[Mutation]:
    for func in _work_functions(parsed):
        sleep = ast.Expr(ast.Call(stdlib_ref(parsed, "time.sleep"), [ast.Constant(THROTTLE)], []))
        start = body_start(func.body)
        loop = next((s for s in func.body[start:] if isinstance(s, (ast.While, ast.For))), None)
        where_to = Insert(loop, "body", 0, (sleep,)) if loop is not None else Insert(func, "body", start, (sleep,))
        description = f"{parsed.qualname(func)}() sleeps {THROTTLE} s {'each pass' if loop else 'each call'}"
        yield Mutation(func.lineno, description, (where_to,))


OPERATORS = (no_join, shutdown_no_wait, threads_at_import, throttle_sleep)
