"""Bound mutants: the limit on concurrent work is removed, off by one, or holds only for small batches."""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator

from concgrade.static.mutants.model import Change, Edit, Mutation, operator
from concgrade.static.mutants.targets import (
    SEMAPHORES,
    Construct,
    at_least_one,
    batch_of,
    enclosing_functions,
    facts,
    length_of,
    method_call,
    receiver,
    short,
    siblings,
    submits_work,
    sync_key,
    where,
    without_size,
)
from concgrade.static.pysource import POOL_KINDS, QUEUE_KINDS, ParsedSource, is_bounded

# Batches up to this size keep the bound under CM205; a suite needs a larger batch to see it break.
SMALL_BATCH = 1000


@operator(
    "CM201-unbound-semaphore",
    "the semaphore around the limited call is taken away (its `with`, or its acquire and release)",
    "no more than the declared number of calls may run at once",
)
def unbound_semaphore(parsed: ParsedSource) -> Iterator[Mutation]:
    found = facts(parsed)
    for node in parsed.nodes:
        if isinstance(node, (ast.With, ast.AsyncWith)):
            kept = [item for item in node.items if sync_key(found, item.context_expr, SEMAPHORES) is None]
            if len(kept) == len(node.items):
                continue
            if kept:
                narrower = copy.copy(node)
                narrower.items = kept
                replacement: tuple[ast.AST, ...] = (narrower,)
            else:
                replacement = tuple(node.body)
            held = ", ".join(short(i.context_expr) for i in node.items if i not in kept)
            yield Mutation(node.lineno, f"`with {held}` {where(parsed, node)} taken away", (Edit(node, replacement),))
        elif isinstance(node, ast.stmt):
            yield from _acquire_release_pair(parsed, node)


def _acquire_release_pair(parsed: ParsedSource, statement: ast.stmt) -> Iterator[Mutation]:
    """`sem.acquire()` followed by `try: ... finally: sem.release()`: both go, the try body stays."""
    acquire = method_call(statement, "acquire")
    if acquire is None or parsed.parents.get(statement) is None:
        return
    key = sync_key(facts(parsed), receiver(acquire), SEMAPHORES)
    body, index = siblings(parsed, statement)
    following = body[index + 1] if index + 1 < len(body) else None
    if key is None or not isinstance(following, ast.Try):
        return
    releases = [s for s in following.finalbody if _releases(s, key)]
    if not releases:
        return
    rest = [s for s in following.finalbody if s not in releases]
    if following.handlers or rest:
        trimmed = copy.copy(following)
        trimmed.finalbody = rest
        kept: tuple[ast.AST, ...] = (trimmed,)
    else:
        kept = tuple(following.body)
    changes: tuple[Change, ...] = (Edit(statement, ()), Edit(following, kept))
    yield Mutation(statement.lineno, f"{key}.acquire() and its release {where(parsed, statement)} taken away", changes)


def _releases(statement: ast.stmt, key: str) -> bool:
    call = method_call(statement, "release")
    return call is not None and ast.unparse(receiver(call)) == key


@operator(
    "CM202-default-pool-size",
    "a pool's explicit size is dropped, so it takes the library's default",
    "the pool must have the declared size: the default follows the machine, not the requirement",
)
def default_pool_size(parsed: ParsedSource) -> Iterator[Mutation]:
    for construct in facts(parsed).constructs:
        if construct.kind not in POOL_KINDS or construct.size is None:
            continue
        if isinstance(construct.size, ast.Constant) and construct.size.value is None:
            continue
        call = construct.call
        description = f"{short(call.func)}() {where(parsed, call)} loses its size {short(construct.size)}"
        yield Mutation(call.lineno, description, (without_size(construct),))


def _sized_bounds(parsed: ParsedSource) -> Iterator[Construct]:
    """Pools, semaphores and bounded queues whose size the code states."""
    for construct in facts(parsed).constructs:
        if construct.size is None:
            continue
        if construct.kind in POOL_KINDS or construct.kind in SEMAPHORES:
            yield construct
        elif construct.kind in QUEUE_KINDS and is_bounded(construct.call, construct.kind, construct.qualified):
            yield construct


def _shifted(size: ast.expr, delta: int) -> ast.expr:
    if isinstance(size, ast.Constant) and type(size.value) is int:
        return ast.Constant(size.value + delta)
    return ast.BinOp(copy.deepcopy(size), ast.Add() if delta > 0 else ast.Sub(), ast.Constant(abs(delta)))


@operator(
    "CM203-bound-plus-one",
    "a pool's, semaphore's or queue's bound is one more than stated",
    "the bound is exact: one call (or queued item) too many breaks it",
)
def bound_plus_one(parsed: ParsedSource) -> Iterator[Mutation]:
    for construct in _sized_bounds(parsed):
        size = construct.size
        assert size is not None
        description = f"{short(size)} + 1 in {short(construct.call.func)}() {where(parsed, size)}"
        yield Mutation(size.lineno, description, (Edit(size, (_shifted(size, 1),)),))


@operator(
    "CM204-bound-minus-one",
    "a pool's, semaphore's or queue's bound is one less than stated",
    "the declared concurrency must be reached: one worker (or permit) short throttles the work",
)
def bound_minus_one(parsed: ParsedSource) -> Iterator[Mutation]:
    for construct in _sized_bounds(parsed):
        size = construct.size
        assert size is not None
        if isinstance(size, ast.Constant) and (type(size.value) is not int or size.value <= 1):
            continue  # a bound of zero would not start at all, which says nothing about the suite
        description = f"{short(size)} - 1 in {short(construct.call.func)}() {where(parsed, size)}"
        yield Mutation(size.lineno, description, (Edit(size, (_shifted(size, -1),)),))


def _batch_bounds(parsed: ParsedSource) -> Iterator[tuple[ast.expr, str]]:
    """(bound expression, batch name): sizes of pools and semaphores made in a function that has the batch,
    and uses of a bounding constant in a function that submits the batch's work (a window, a check)."""
    found = facts(parsed)
    sizes = set()
    for construct in found.constructs:
        if construct.size is None or not (construct.kind in POOL_KINDS or construct.kind in SEMAPHORES):
            continue
        sizes.add(id(construct.size))
        batch = batch_of(parsed, construct.call)
        if batch is not None:
            yield construct.size, batch
    for node in parsed.nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in found.bounds:
            if id(node) in sizes:
                continue
            functions = enclosing_functions(parsed, node)
            batch = batch_of(parsed, node)
            if functions and batch is not None and submits_work(functions[-1]):
                yield node, batch


@operator(
    "CM205-bound-below-size",
    f"a bound holds only for batches of up to {SMALL_BATCH} items; a larger batch gets one slot per item",
    "the bound must hold for any batch size, not only for the small ones a quick test uses",
)
def bound_below_size(parsed: ParsedSource) -> Iterator[Mutation]:
    for bound, batch in _batch_bounds(parsed):
        small = ast.Compare(length_of(batch), [ast.LtE()], [ast.Constant(SMALL_BATCH)])
        conditional = ast.IfExp(small, copy.deepcopy(bound), at_least_one(length_of(batch)))
        description = f"{short(bound)} {where(parsed, bound)} holds only while len({batch}) <= {SMALL_BATCH}"
        yield Mutation(bound.lineno, description, (Edit(bound, (conditional,)),))


@operator(
    "CM206-bound-grows-with-batch",
    "a pool or semaphore made for a batch is sized from the batch: one worker or permit per item",
    "the bound must not grow with the input: a large batch would run all its items at once",
)
def bound_grows_with_batch(parsed: ParsedSource) -> Iterator[Mutation]:
    for construct in facts(parsed).constructs:
        size = construct.size
        if size is None or not (construct.kind in POOL_KINDS or construct.kind in SEMAPHORES):
            continue
        batch = batch_of(parsed, construct.call)
        if batch is None:
            continue
        description = f"{short(size)} becomes len({batch}) in {short(construct.call.func)}() {where(parsed, size)}"
        yield Mutation(size.lineno, description, (Edit(size, (at_least_one(length_of(batch)),)),))


OPERATORS = (
    unbound_semaphore,
    default_pool_size,
    bound_plus_one,
    bound_minus_one,
    bound_below_size,
    bound_grows_with_batch,
)
