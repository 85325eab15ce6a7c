"""Sequentializing mutants: the work runs one item after another although the code still looks concurrent."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from concgrade.static.mutants.model import Edit, Insert, Mutation, operator
from concgrade.static.mutants.targets import (
    after_imports,
    awaited_gathers,
    facts,
    gathered,
    is_multiprocessing_pool,
    pool_of,
    short,
    statements,
    where,
    with_size,
)
from concgrade.static.pysource import POOL_KINDS, ParsedSource

INLINE = "_concgrade_run_inline"
_INLINE_HELPER = statements(
    f'''
def {INLINE}(fn, /, *args, **kwargs):
    """Mutant: run the work at once on the caller's thread and hand back a finished future."""
    import concurrent.futures
    future = concurrent.futures.Future()
    try:
        future.set_result(fn(*args, **kwargs))
    except Exception as exc:
        future.set_exception(exc)
    return future
'''
)
_MAP_METHODS = ("map", "imap", "imap_unordered")


def helper(parsed: ParsedSource, definition: tuple[ast.stmt, ...]) -> Insert:
    """The insertion of a mutant's helper function after the module's imports."""
    return Insert(parsed.tree, "body", after_imports(parsed.tree), definition)


@operator(
    "CM101-sequentialize-executor",
    "a pool's submit (or map) runs each item on the caller's thread, as a plain loop would",
    "the work must really run concurrently, not one item after another on the caller's thread",
)
def sequentialize_executor(parsed: ParsedSource) -> Iterator[Mutation]:
    found = facts(parsed)
    for call in parsed.calls():
        if not (isinstance(call.func, ast.Attribute) and call.args):
            continue
        construct = pool_of(parsed, found, call.func.value)
        if construct is None:
            continue
        method = call.func.attr
        if method == "submit":
            inline = ast.Call(ast.Name(INLINE, ast.Load()), call.args, call.keywords)
            changes: tuple[Edit | Insert, ...] = (Edit(call, (inline,)), helper(parsed, _INLINE_HELPER))
        elif method in _MAP_METHODS:
            # A multiprocessing pool's third positional argument is a chunk size, not an iterable.
            iterables = call.args[1:2] if is_multiprocessing_pool(construct) else call.args[1:]
            mapped: ast.expr = ast.Call(ast.Name("map", ast.Load()), [call.args[0], *iterables], [])
            if method == "map":
                mapped = ast.Call(ast.Name("list", ast.Load()), [mapped], [])
            changes = (Edit(call, (mapped,)),)
        else:
            continue
        yield Mutation(call.lineno, f"{short(call.func)}() {where(parsed, call)} runs on the caller's thread", changes)


@operator(
    "CM102-sequentialize-gather",
    "`await asyncio.gather(...)` becomes a loop that awaits each awaitable in turn",
    "the coroutines must run concurrently, not one after another",
)
def sequentialize_gather(parsed: ParsedSource) -> Iterator[Mutation]:
    for node, call in awaited_gathers(parsed):
        awaitables = gathered(call, ast.Tuple)
        loop = ast.ListComp(
            ast.Await(ast.Name("_aw", ast.Load())),
            [ast.comprehension(ast.Name("_aw", ast.Store()), awaitables, [], 0)],
        )
        yield Mutation(
            node.lineno, f"gather() {where(parsed, node)} awaits one awaitable after another", (Edit(node, (loop,)),)
        )


@operator(
    "CM103-single-worker",
    "a pool is sized to one worker",
    "the work must run concurrently: one worker runs it one item after another",
)
def single_worker(parsed: ParsedSource) -> Iterator[Mutation]:
    for construct in facts(parsed).constructs:
        if construct.kind not in POOL_KINDS:
            continue
        if isinstance(construct.size, ast.Constant) and construct.size.value == 1:
            continue
        call = construct.call
        yield Mutation(
            call.lineno,
            f"{short(call.func)}() {where(parsed, call)} gets one worker",
            (with_size(construct, ast.Constant(1)),),
        )


OPERATORS = (sequentialize_executor, sequentialize_gather, single_worker)
