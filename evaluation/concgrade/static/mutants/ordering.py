"""Ordering mutants: results land in completion order, or are keyed by the item instead of its position."""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass

from concgrade.static.mutants.model import Edit, Mutation, operator
from concgrade.static.mutants.targets import (
    awaited_gathers,
    enclosing_functions,
    facts,
    gathered,
    is_multiprocessing_pool,
    pool_of,
    short,
    statements,
    stdlib_ref,
    where,
)
from concgrade.static.pysource import ParsedSource, walk_scope


@dataclass(frozen=True)
class Fill:
    """`results[i] = value` into a list made as `[None] * len(items)`."""

    statement: ast.Assign
    results: str
    index: ast.expr
    items: str | None  # the list whose length sized the results, if the code says


def _fills(parsed: ParsedSource) -> Iterator[Fill]:
    for node in parsed.nodes:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)):
            continue
        for func in enclosing_functions(parsed, node):
            placeholders = _placeholder_lists(func)
            if target.value.id in placeholders:
                yield Fill(node, target.value.id, target.slice, placeholders[target.value.id])
                break


def _placeholder_lists(func: ast.AST) -> dict[str, str | None]:
    """Lists made as `[None] * n` in the function -> the list whose length n is (through `n = len(x)` too)."""
    lengths: dict[str, str] = {}
    made: dict[str, ast.expr] = {}
    for node in walk_scope(func):
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if value is None or len(targets) != 1 or not isinstance(targets[0], ast.Name):
            continue
        measured = _measured(value)
        if measured is not None:
            lengths[targets[0].id] = measured
        count = _none_list_count(value)
        if count is not None:
            made[targets[0].id] = count
    placeholders = {
        name: _measured(count) or (lengths.get(count.id) if isinstance(count, ast.Name) else None)
        for name, count in made.items()
    }
    # A list that grows a None slot per item as a lazy input is read (`results.append(None)`, also in a
    # nested helper), to be filled by index when the item's work is done; its length follows no list.
    for name in _grown_by_placeholders(func):
        placeholders.setdefault(name, None)
    return placeholders


def _grown_by_placeholders(func: ast.AST) -> set[str]:
    empty = set()
    for node in walk_scope(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and isinstance(value, ast.List) and not value.elts:
            empty.add(target.id)
    grown = set()
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "append"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in empty
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value is None
        ):
            grown.add(node.func.value.id)
    return grown


def _measured(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "len" and len(expr.args) == 1:
        argument = expr.args[0]
        return argument.id if isinstance(argument, ast.Name) else None
    return None


def _none_list_count(expr: ast.expr) -> ast.expr | None:
    if not (isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mult)):
        return None
    for placeholder, count in ((expr.left, expr.right), (expr.right, expr.left)):
        if (
            isinstance(placeholder, ast.List)
            and len(placeholder.elts) == 1
            and isinstance(placeholder.elts[0], ast.Constant)
            and placeholder.elts[0].value is None
        ):
            return count
    return None


@operator(
    "CM701-completion-order",
    "results are stored in the order the work completes instead of the order of the input",
    "results[i] belongs to input i, however the work finishes",
)
def completion_order(parsed: ParsedSource) -> Iterator[Mutation]:
    for fill in _fills(parsed):
        next_free = ast.Call(
            ast.Attribute(ast.Name(fill.results, ast.Load()), "index", ast.Load()), [ast.Constant(None)], []
        )
        description = f"{short(fill.statement)} {where(parsed, fill.statement)} fills the next free slot"
        yield Mutation(fill.statement.lineno, description, (Edit(fill.index, (next_free,)),))
    yield from _pool_map_unordered(parsed)
    yield from _futures_as_completed(parsed)
    yield from _gather_as_completed(parsed)


def _pool_map_unordered(parsed: ParsedSource) -> Iterator[Mutation]:
    found = facts(parsed)
    for call in parsed.calls():
        if not (isinstance(call.func, ast.Attribute) and call.func.attr == "map" and len(call.args) >= 2):
            continue
        construct = pool_of(parsed, found, call.func.value)
        if construct is None or not is_multiprocessing_pool(construct):
            continue
        unordered = copy.deepcopy(call)
        assert isinstance(unordered.func, ast.Attribute)
        unordered.func.attr = "imap_unordered"
        listed = ast.Call(ast.Name("list", ast.Load()), [unordered], [])
        description = f"{short(call.func)}() {where(parsed, call)} becomes imap_unordered()"
        yield Mutation(call.lineno, description, (Edit(call, (listed,)),))


def _futures_as_completed(parsed: ParsedSource) -> Iterator[Mutation]:
    """Loops that read `.result()` of a list of submitted futures, in the list's order."""
    for func in parsed.nodes:
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        futures = _future_lists(func)
        for node in walk_scope(func):
            if not isinstance(node, (ast.For, ast.comprehension)):
                continue
            if not (isinstance(node.iter, ast.Name) and node.iter.id in futures and isinstance(node.target, ast.Name)):
                continue
            owner = node if isinstance(node, ast.For) else parsed.parents[node]
            if _reads_result(owner, node.target.id):
                completed = ast.Call(stdlib_ref(parsed, "concurrent.futures.as_completed"), [node.iter], [])
                description = f"the futures in {node.iter.id} {where(parsed, owner)} are read as they complete"
                yield Mutation(node.iter.lineno, description, (Edit(node.iter, (completed,)),))


def _future_lists(func: ast.AST) -> set[str]:
    names = set()
    for node in walk_scope(func):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value
            if isinstance(value, ast.ListComp) and isinstance(value.elt, ast.Call):
                method = value.elt.func
                if isinstance(method, ast.Attribute) and method.attr == "submit":
                    names.add(node.targets[0].id)
    return names


def _reads_result(owner: ast.AST, name: str) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "result"
        and isinstance(n.func.value, ast.Name)
        and n.func.value.id == name
        for n in ast.walk(owner)
    )


def _gather_as_completed(parsed: ParsedSource) -> Iterator[Mutation]:
    for node, call in awaited_gathers(parsed):
        completed = ast.Call(stdlib_ref(parsed, "asyncio.as_completed"), [gathered(call, ast.List)], [])
        loop = ast.ListComp(
            ast.Await(ast.Name("_aw", ast.Load())),
            [ast.comprehension(ast.Name("_aw", ast.Store()), completed, [], 0)],
        )
        description = f"gather() {where(parsed, node)} returns results as they complete"
        yield Mutation(node.lineno, description, (Edit(node, (loop,)),))


@operator(
    "CM702-keyed-by-value",
    "results are keyed by the item instead of its position: equal items all get the last result written",
    "duplicates in the input are separate items: results[i] is input i's own outcome",
)
def keyed_by_value(parsed: ParsedSource) -> Iterator[Mutation]:
    for fill in _fills(parsed):
        if fill.items is None:
            continue
        value, index = ast.unparse(fill.statement.value), ast.unparse(fill.index)
        by_value = statements(
            f"_value = {value}\n"
            f"_key = {fill.items}[{index}]\n"
            f"for _slot, _item in enumerate({fill.items}):\n"
            f"    if _item == _key:\n"
            f"        {fill.results}[_slot] = _value\n"
        )
        description = f"{short(fill.statement)} {where(parsed, fill.statement)} writes every slot of an equal item"
        yield Mutation(fill.statement.lineno, description, (Edit(fill.statement, by_value),))


OPERATORS = (completion_order, keyed_by_value)
