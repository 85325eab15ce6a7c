"""Lock mutants: a permit that is never given back, given back only on success, or a lock taken away from
a read-modify-write (a check-then-act race)."""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator

from concgrade.static.mutants.model import Edit, Mutation, operator
from concgrade.static.mutants.targets import (
    MUTATING_METHODS,
    MUTEXES,
    SYNC_KINDS,
    facts,
    key_of,
    method_call,
    receiver,
    sync_key,
    where,
)
from concgrade.static.pysource import ParsedSource, walk_scope

_WAITS = ("wait", "wait_for", "notify", "notify_all")


def _held(parsed: ParsedSource, kinds: frozenset[str] = SYNC_KINDS) -> Iterator[tuple[ast.With | ast.AsyncWith, str]]:
    """`with lock:` blocks (one item, a known lock or semaphore) and the lock's key."""
    found = facts(parsed)
    for node in parsed.nodes:
        if isinstance(node, (ast.With, ast.AsyncWith)) and len(node.items) == 1:
            key = sync_key(found, node.items[0].context_expr, kinds)
            if key is not None and node.items[0].optional_vars is None:
                yield node, key


def _call_statement(block: ast.With | ast.AsyncWith, method: str) -> ast.stmt:
    """`lock.acquire()` (awaited for `async with`) or `lock.release()` on the block's lock."""
    lock = copy.deepcopy(block.items[0].context_expr)
    call: ast.expr = ast.Call(ast.Attribute(lock, method, ast.Load()), [], [])
    if isinstance(block, ast.AsyncWith) and method == "acquire":
        call = ast.Await(call)
    return ast.Expr(call)


def _releases(parsed: ParsedSource) -> Iterator[tuple[ast.stmt, str]]:
    """`x.release()` statements on a known lock or semaphore."""
    found = facts(parsed)
    for node in parsed.nodes:
        call = method_call(node, "release") if isinstance(node, ast.stmt) else None
        if call is not None:
            key = sync_key(found, receiver(call))
            if key is not None:
                assert isinstance(node, ast.stmt)
                yield node, key


@operator(
    "CM501-drop-release",
    "a lock or permit is acquired and never released (a `with` becomes a bare acquire, a release goes)",
    "every permit taken is given back: a leak shrinks the bound until everything waits forever",
)
def drop_release(parsed: ParsedSource) -> Iterator[Mutation]:
    for block, key in _held(parsed):
        leaked = (_call_statement(block, "acquire"), *block.body)
        yield Mutation(block.lineno, f"`with {key}` {where(parsed, block)} never releases", (Edit(block, leaked),))
    for statement, key in _releases(parsed):
        yield Mutation(
            statement.lineno, f"{key}.release() {where(parsed, statement)} taken away", (Edit(statement, ()),)
        )


@operator(
    "CM502-release-outside-finally",
    "a release moves out of its `finally` (or `with`) to after the work, so an exception skips it",
    "a permit is given back however the work ends, an exception included",
)
def release_outside_finally(parsed: ParsedSource) -> Iterator[Mutation]:
    for block, key in _held(parsed):
        if _leaves_early(block.body):
            continue  # a release after the body would also be skipped by a return: not this mutant
        unprotected = (_call_statement(block, "acquire"), *_then(block.body, _call_statement(block, "release")))
        description = f"`with {key}` {where(parsed, block)} releases only when the body does not raise"
        yield Mutation(block.lineno, description, (Edit(block, unprotected),))
    for statement, key in _releases(parsed):
        guard = parsed.parents.get(statement)
        if not (isinstance(guard, ast.Try) and statement in guard.finalbody):
            continue
        if _leaves_early(guard.body):
            continue
        rest = [s for s in guard.finalbody if s is not statement]
        then_release = _then(guard.body, statement)
        if guard.handlers or guard.orelse or rest:
            moved = copy.copy(guard)
            moved.body = list(then_release)
            moved.finalbody = rest
            replacement: tuple[ast.AST, ...] = (moved,)
        else:
            replacement = then_release
        description = f"{key}.release() {where(parsed, statement)} moves out of its finally"
        yield Mutation(statement.lineno, description, (Edit(guard, replacement),))


def _leaves_early(body: list[ast.stmt]) -> bool:
    """Whether a body can leave by return, break or continue before its last statement."""
    for statement in body:
        nodes = [statement, *walk_scope(statement)]
        if statement is body[-1] and isinstance(statement, ast.Return):
            nodes = nodes[1:]
        if any(isinstance(n, (ast.Return, ast.Break, ast.Continue)) for n in nodes):
            return True
    return False


def _then(body: list[ast.stmt], release: ast.stmt) -> tuple[ast.stmt, ...]:
    """The body followed by the release; a final `return x` keeps its value and returns after it."""
    *rest, last = body
    if isinstance(last, ast.Return) and last.value is not None:
        kept = ast.Assign([ast.Name("_result", ast.Store())], last.value)
        return (*rest, kept, release, ast.Return(ast.Name("_result", ast.Load())))
    return (*body, release)


@operator(
    "CM503-unlocked-read-modify-write",
    "the lock around a read-modify-write or check-then-act on shared state is taken away",
    "a read-modify-write of shared state is atomic: two threads must not both read before either writes",
)
def unlocked_read_modify_write(parsed: ParsedSource) -> Iterator[Mutation]:
    for block, key in _held(parsed, MUTEXES):
        if _signals(block, key):
            continue  # wait and notify need the lock held: without it the mutant only crashes
        shared = _read_then_written(parsed, block)
        if shared:
            description = f"`with {key}` {where(parsed, block)} taken away from {', '.join(sorted(shared))}"
            yield Mutation(block.lineno, description, (Edit(block, tuple(block.body)),))


def _signals(block: ast.AST, key: str) -> bool:
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _WAITS
        and key_of(node.func.value) == key
        for node in ast.walk(block)
    )


def _read_then_written(parsed: ParsedSource, block: ast.With | ast.AsyncWith) -> set[str]:
    """Shared names and attributes the block both reads and writes (a write target itself is not a read)."""
    local = _local_names(parsed, block)
    writes: set[str] = set()
    reads: set[str] = set()
    written_nodes: set[int] = set()
    for statement in block.body:
        for node in [statement, *walk_scope(statement)]:
            for target in _write_targets(node):
                root = _root(target)
                written_nodes.add(id(root))
                key = key_of(root)
                if key:
                    writes.add(key)
                    if isinstance(node, ast.AugAssign):
                        reads.add(key)
    for statement in block.body:
        for node in [statement, *walk_scope(statement)]:
            if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
                key = key_of(node)
                if key and id(node) not in written_nodes:
                    reads.add(key)
    return {key for key in writes & reads if "." in key or key not in local}


def _write_targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return [t for target in node.targets for t in _unpacked(target)]
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return [node.target]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATING_METHODS:
        return [node.func.value]
    return []


def _unpacked(target: ast.expr) -> list[ast.expr]:
    if isinstance(target, (ast.Tuple, ast.List)):
        return [t for element in target.elts for t in _unpacked(element)]
    return [target.value] if isinstance(target, ast.Starred) else [target]


def _root(target: ast.expr) -> ast.expr:
    """The name or one-level attribute a write lands in: `self.d[k].x` writes `self.d`."""
    while isinstance(target, ast.Subscript) or (
        isinstance(target, ast.Attribute) and not isinstance(target.value, ast.Name)
    ):
        target = target.value
    return target


def _local_names(parsed: ParsedSource, block: ast.AST) -> set[str]:
    """Names local to the function around the block: bound there and not declared global or nonlocal."""
    func = parsed.enclosing_function(block)
    if func is None:
        return set()
    declared = {n for node in walk_scope(func) if isinstance(node, (ast.Global, ast.Nonlocal)) for n in node.names}
    bound = {a.arg for a in ast.walk(func.args) if isinstance(a, ast.arg)}
    for node in walk_scope(func):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
    return bound - declared


OPERATORS = (drop_release, release_outside_finally, unlocked_read_modify_write)
