"""Streaming mutants: work that was fed as slots free up is taken up front (into futures, a queue or a list).

Mapping the batch through `Executor.map` submits every item through `submit`, so it is what CM401 makes; a
multiprocessing pool's `imap` holds its backlog in the pool's own queue, outside any executor, as CM402 does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from concgrade.static.mutants.model import Change, Edit, Insert, Mutation, operator
from concgrade.static.mutants.sequential import helper
from concgrade.static.mutants.targets import (
    batch_of,
    body_start,
    enclosing_functions,
    facts,
    is_submission,
    length_of,
    pool_of,
    short,
    statements,
    stdlib_ref,
    submits_work,
    where,
    without_size,
)
from concgrade.static.pysource import QUEUE_KINDS, ParsedSource, is_bounded, walk_scope

QUEUED = "_concgrade_queued"
_QUEUE_HELPERS = statements(
    f'''
def {QUEUED}(workers, fn, /, *args, **kwargs):
    """Mutant: the work waits in an unbounded queue drained by `workers` threads, outside any executor."""
    import concurrent.futures
    import queue
    import threading
    state = globals().setdefault("_concgrade_backlog", {{"lock": threading.Lock()}})
    with state["lock"]:
        if "queue" not in state:
            state["queue"] = queue.Queue()
            for _ in range(workers):
                threading.Thread(target=_concgrade_drain, args=(state["queue"],), daemon=True).start()
    future = concurrent.futures.Future()
    state["queue"].put((future, fn, args, kwargs))
    return future


def _concgrade_drain(backlog):
    """Mutant: run queued work, one item at a time, for as long as the process lives."""
    while True:
        future, fn, args, kwargs = backlog.get()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)
'''
)
# Parameters annotated as one of these may be lazy: reading them whole is a change of behaviour.
_LAZY_ANNOTATIONS = ("Iterable", "Iterator", "Generator", "AsyncIterable", "AsyncIterator")


def _windows(parsed: ParsedSource) -> Iterator[tuple[ast.expr, str | None]]:
    """(expression, batch or None): what limits how much of the input a submitting function takes at once,
    being a bounding constant or the count of an `itertools.islice` over the work."""
    found = facts(parsed)
    sizes = {id(c.size) for c in found.constructs if c.size is not None}
    for node in parsed.nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in found.bounds:
            window: ast.expr | None = None if id(node) in sizes else node
        elif isinstance(node, ast.Call) and parsed.resolve(node.func) == "itertools.islice" and len(node.args) == 2:
            count = node.args[1]
            window = None if isinstance(count, ast.Name) and count.id in found.bounds else count
        else:
            continue
        functions = enclosing_functions(parsed, node)
        batch = batch_of(parsed, node)
        if window is not None and functions and submits_work(functions[-1]):
            yield window, batch


def _everything(parsed: ParsedSource, batch: str | None) -> ast.expr:
    """The batch's length, or `sys.maxsize` for a lazy input whose length nobody knows."""
    return length_of(batch) if batch is not None else stdlib_ref(parsed, "sys.maxsize")


def _all_of(batch: str | None) -> str:
    return f"len({batch})" if batch is not None else "sys.maxsize"


@operator(
    "CM401-submit-all-up-front",
    "the window that feeds the pool is widened to the whole batch: every item is submitted at once",
    "work is streamed: only about one pool's worth of items may be pending at any time, not the whole batch",
)
def submit_all_up_front(parsed: ParsedSource) -> Iterator[Mutation]:
    for window, batch in _windows(parsed):
        description = f"{short(window)} {where(parsed, window)} becomes {_all_of(batch)}: the whole input at once"
        yield Mutation(window.lineno, description, (Edit(window, (_everything(parsed, batch),)),))


@operator(
    "CM402-backlog-in-queue",
    "the whole batch goes up front into an unbounded queue that a fixed set of threads drains, not the executor",
    "work is streamed: the input may not be taken far ahead of the sends, wherever the backlog would wait",
)
def backlog_in_queue(parsed: ParsedSource) -> Iterator[Mutation]:
    found = facts(parsed)
    for window, batch in _windows(parsed):
        if not (isinstance(window, ast.Name) and window.id in found.bounds):
            continue  # the drain threads need the bound to keep the concurrency as it was
        outermost = enclosing_functions(parsed, window)[-1]
        submissions = [
            call
            for call in ast.walk(outermost)
            if isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "submit"
            and call.args
            and pool_of(parsed, found, call.func.value) is not None
        ]
        if not submissions:
            continue
        changes: list[Change] = [Edit(window, (_everything(parsed, batch),))]
        for call in submissions:
            queued = ast.Call(
                ast.Name(QUEUED, ast.Load()), [ast.Name(window.id, ast.Load()), *call.args], call.keywords
            )
            changes.append(Edit(call, (queued,)))
        changes.append(helper(parsed, _QUEUE_HELPERS))
        what = batch or "its input"
        description = f"{outermost.name}() puts all of {what} up front in a queue drained by {window.id} threads"
        yield Mutation(window.lineno, description, tuple(changes))


@operator(
    "CM403-unbounded-queue",
    "a bounded queue loses its maxsize, so producers never wait for room",
    "the queue is bounded: a fast producer must be slowed to the pace of the workers, not pile up work",
)
def unbounded_queue(parsed: ParsedSource) -> Iterator[Mutation]:
    for construct in facts(parsed).constructs:
        if construct.kind in QUEUE_KINDS and is_bounded(construct.call, construct.kind, construct.qualified):
            call = construct.call
            description = f"{short(call.func)}() {where(parsed, call)} loses its bound {short(construct.size or call)}"
            yield Mutation(call.lineno, description, (without_size(construct),))


@operator(
    "CM404-eager-submissions",
    "a lazy generator of submissions becomes a list: every item is submitted when it is built",
    "work is streamed: submissions must happen as the consumer asks for them, not all at once",
)
def eager_submissions(parsed: ParsedSource) -> Iterator[Mutation]:
    for node in parsed.nodes:
        if isinstance(node, ast.GeneratorExp) and any(is_submission(parsed, n) for n in ast.walk(node.elt)):
            eager = ast.ListComp(node.elt, node.generators)
            description = f"the generator {where(parsed, node)} submits everything when built"
            yield Mutation(node.lineno, description, (Edit(node, (eager,)),))


@operator(
    "CM405-materialize-input",
    "a submitting function reads its whole (possibly lazy) input into a list before the first item is sent",
    "a lazy input is consumed as the work goes: reading it all first holds the whole batch as pending arguments",
)
def materialize_input(parsed: ParsedSource) -> Iterator[Mutation]:
    for func in parsed.nodes:
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)) or not submits_work(func):
            continue
        for argument in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]:
            if argument.arg in ("self", "cls") or not _may_be_lazy(argument):
                continue
            if _read_whole(func, argument.arg) or not _iterated(func, argument.arg):
                continue
            read = statements(f"{argument.arg} = list({argument.arg})")
            start = body_start(func.body)
            description = f"{parsed.qualname(func)}() reads all of {argument.arg} into a list first"
            yield Mutation(func.lineno, description, (Insert(func, "body", start, read),))


def _may_be_lazy(argument: ast.arg) -> bool:
    annotation = argument.annotation
    if annotation is None:
        return True
    base = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    name = base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else ""
    return name in _LAZY_ANNOTATIONS


def _names_of(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _read_whole(func: ast.AST, name: str) -> bool:
    """Whether the function already makes a list, tuple, set or sorted copy of `name`, or takes its length."""
    for node in walk_scope(func):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1:
            if node.func.id in ("list", "tuple", "set", "sorted", "len") and _names_of(node.args[0], name):
                return True
    return False


def _iterated(func: ast.AST, name: str) -> bool:
    for node in ast.walk(func):
        if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)) and _names_of(node.iter, name):
            return True
        if isinstance(node, ast.Call) and any(_names_of(a, name) for a in node.args):
            if isinstance(node.func, ast.Name) and node.func.id in ("iter", "enumerate", "zip", "map"):
                return True
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("islice", "map", "imap", "imap_unordered"):
                return True
    return False


OPERATORS = (submit_all_up_front, backlog_in_queue, unbounded_queue, eager_submissions, materialize_input)
