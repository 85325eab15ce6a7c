"""Sharing mutants: the one pool every caller shares becomes a pool per call or a pool per calling thread."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from concgrade.static.mutants.model import Change, Edit, Insert, Mutation, operator
from concgrade.static.mutants.sequential import helper
from concgrade.static.mutants.targets import body_start, pool_factories, short, statements
from concgrade.static.pysource import POOL_KINDS, ParsedSource, walk_scope

PER_THREAD = "_concgrade_pool_of_this_thread"
_PER_THREAD_HELPER = statements(
    f'''
def {PER_THREAD}(make):
    """Mutant: each calling thread gets a pool of its own instead of sharing one."""
    import threading
    pools = globals().setdefault("_concgrade_thread_pools", threading.local())
    if not hasattr(pools, "pool"):
        pools.pool = make()
    return pools.pool
'''
)


def _shared_pools(
    parsed: ParsedSource,
) -> Iterator[tuple[ast.FunctionDef | ast.AsyncFunctionDef, ast.Call, str | None]]:
    """(function, the pool's call, global name): a lazily built global pool's factory (name None), and each
    function that uses a pool built at module level under that global name."""
    for factory, call in pool_factories(parsed):
        yield factory, call, None
    for statement in parsed.tree.body:
        if not (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call)):
            continue
        kind = parsed.call_kind(statement.value)
        names = [t.id for t in statement.targets if isinstance(t, ast.Name)]
        if kind is None or kind[0] not in POOL_KINDS or len(names) != 1:
            continue
        for func in parsed.nodes:
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)) and _reads_only(func, names[0]):
                yield func, statement.value, names[0]


def _reads_only(func: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    """Whether the function reads the module name and neither binds nor declares it."""
    reads = False
    for node in walk_scope(func):
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return False
        if isinstance(node, ast.Name) and node.id == name:
            if not isinstance(node.ctx, ast.Load):
                return False
            reads = True
    return reads and not any(a.arg == name for a in ast.walk(func.args) if isinstance(a, ast.arg))


def _new_pool_per_use(
    func: ast.FunctionDef | ast.AsyncFunctionDef, pool: ast.expr, name: str | None
) -> tuple[Change, ...]:
    """A factory returns `pool` instead of its shared one; a user of the module's pool binds `pool` first."""
    start = body_start(func.body)
    if name is None:
        rest = tuple(Edit(statement, ()) for statement in func.body[start + 1 :])
        return (Edit(func.body[start], (ast.Return(pool),)), *rest)
    assignment = ast.Assign([ast.Name(name, ast.Store())], pool)
    return (Insert(func, "body", start, (assignment,)),)


def _describe(parsed: ParsedSource, func: ast.AST, call: ast.Call, name: str | None, what: str) -> str:
    qualname = parsed.qualname(func)
    if name is None:
        return f"{qualname}() returns {what} {short(call.func)}() instead of its shared one"
    return f"{qualname}() uses {what} {short(call.func)}() instead of the module's {name}"


@operator(
    "CM301-pool-per-call",
    "the shared pool is replaced by a new pool made on every call",
    "one pool shared by every call bounds the whole process; a pool per call multiplies the bound by the callers",
)
def pool_per_call(parsed: ParsedSource) -> Iterator[Mutation]:
    for func, call, name in _shared_pools(parsed):
        changes = _new_pool_per_use(func, call, name)
        yield Mutation(func.lineno, _describe(parsed, func, call, name, "a new"), changes)


@operator(
    "CM302-pool-per-thread",
    "the shared pool is replaced by one pool per calling thread",
    "one pool shared by every thread bounds the whole process; a pool per thread multiplies the bound",
)
def pool_per_thread(parsed: ParsedSource) -> Iterator[Mutation]:
    for func, call, name in _shared_pools(parsed):
        make = ast.Lambda(ast.arguments([], [], None, [], [], None, []), call)
        per_thread = ast.Call(ast.Name(PER_THREAD, ast.Load()), [make], [])
        changes = (*_new_pool_per_use(func, per_thread, name), helper(parsed, _PER_THREAD_HELPER))
        yield Mutation(func.lineno, _describe(parsed, func, call, name, "this thread's own"), changes)


OPERATORS = (pool_per_call, pool_per_thread)
