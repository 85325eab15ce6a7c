"""Error mutants: fatal errors swallowed or converted, work not cancelled after one, messages changed."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from concgrade.static.mutants.model import Edit, Mutation, operator
from concgrade.static.mutants.targets import method_call, short, where
from concgrade.static.pysource import ParsedSource

# What a handler catches when it stands for "fatal errors too" (a bare `except:` as well).
_FATAL = frozenset({"BaseException", "KeyboardInterrupt", "SystemExit", "CancelledError", "GeneratorExit"})


def _caught_names(handler: ast.ExceptHandler) -> list[str]:
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type] if handler.type else []
    return [c.attr if isinstance(c, ast.Attribute) else c.id if isinstance(c, ast.Name) else "" for c in caught]


def _catches_fatal(handler: ast.ExceptHandler) -> bool:
    return handler.type is None or bool(_FATAL & set(_caught_names(handler)))


@operator(
    "CM601-catch-base-exception",
    "`except Exception` becomes `except BaseException`: KeyboardInterrupt and SystemExit are handled as ordinary",
    "fatal errors (KeyboardInterrupt, SystemExit) get through; only ordinary exceptions are handled",
)
def catch_base_exception(parsed: ParsedSource) -> Iterator[Mutation]:
    for handler in parsed.nodes:
        if not isinstance(handler, ast.ExceptHandler) or handler.type is None:
            continue
        caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        for name in caught:
            if isinstance(name, ast.Name) and name.id == "Exception":
                widened = ast.Name("BaseException", ast.Load())
                description = f"`except Exception` {where(parsed, handler)} catches BaseException"
                yield Mutation(handler.lineno, description, (Edit(name, (widened,)),))


def _reraises(parsed: ParsedSource) -> Iterator[ast.Raise]:
    """Bare `raise` statements of handlers that catch fatal errors (not those of handlers nested inside)."""
    for handler in parsed.nodes:
        if isinstance(handler, ast.ExceptHandler) and _catches_fatal(handler):
            for statement in handler.body:
                yield from _bare_raises(statement)


def _bare_raises(node: ast.AST) -> Iterator[ast.Raise]:
    if isinstance(node, ast.Raise) and node.exc is None:
        yield node
        return
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, (ast.ExceptHandler, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            yield from _bare_raises(child)


@operator(
    "CM602-swallow-fatal",
    "the re-raise of a fatal error is dropped: the caller returns as if nothing happened",
    "a fatal error (KeyboardInterrupt, SystemExit) propagates to the caller",
)
def swallow_fatal(parsed: ParsedSource) -> Iterator[Mutation]:
    for statement in _reraises(parsed):
        yield Mutation(statement.lineno, f"`raise` {where(parsed, statement)} dropped", (Edit(statement, ()),))


@operator(
    "CM603-convert-fatal",
    "a fatal error is re-raised as a RuntimeError",
    "a fatal error propagates as itself: a KeyboardInterrupt must stay a KeyboardInterrupt",
)
def convert_fatal(parsed: ParsedSource) -> Iterator[Mutation]:
    for statement in _reraises(parsed):
        converted = ast.Raise(
            ast.Call(ast.Name("RuntimeError", ast.Load()), [ast.Constant("fatal error in the work")], []), None
        )
        description = f"`raise` {where(parsed, statement)} raises a RuntimeError instead"
        yield Mutation(statement.lineno, description, (Edit(statement, (converted,)),))


@operator(
    "CM604-no-cancel-after-fatal",
    "work not yet started is no longer cancelled (a `cancel()` goes, `cancel_futures=True` becomes False)",
    "after a fatal error, work that has not started is cancelled, not run anyway",
)
def no_cancel_after_fatal(parsed: ParsedSource) -> Iterator[Mutation]:
    for node in parsed.nodes:
        if isinstance(node, ast.stmt) and method_call(node, "cancel") is not None:
            loop = parsed.parents.get(node)
            # A loop that only cancels goes with its cancel.
            alone = isinstance(loop, ast.For) and loop.body == [node] and not loop.orelse
            removed = loop if alone and isinstance(loop, ast.stmt) else node
            yield Mutation(node.lineno, f"{short(node)} {where(parsed, node)} taken away", (Edit(removed, ()),))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "shutdown":
            for keyword in node.keywords:
                if keyword.arg == "cancel_futures" and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                ):
                    description = f"{short(node)} {where(parsed, node)} no longer cancels pending futures"
                    yield Mutation(node.lineno, description, (Edit(keyword.value, (ast.Constant(False),)),))


def _messages(parsed: ParsedSource) -> Iterator[tuple[ast.Call, str]]:
    """`str(e)` calls on the exception an enclosing handler caught."""
    for node in parsed.nodes:
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "str"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Name)
            and not node.keywords
        ):
            continue
        name = node.args[0].id
        if any(isinstance(a, ast.ExceptHandler) and a.name == name for a in parsed.ancestors(node)):
            yield node, name


@operator(
    "CM605-message-args0",
    "an error's `str(e)` becomes `e.args[0]`",
    "the error's message is str(e), which differs from args[0] for exceptions with several or no arguments",
)
def message_args0(parsed: ParsedSource) -> Iterator[Mutation]:
    for call, name in _messages(parsed):
        first = ast.Subscript(
            ast.Attribute(ast.Name(name, ast.Load()), "args", ast.Load()), ast.Constant(0), ast.Load()
        )
        yield Mutation(
            call.lineno, f"str({name}) {where(parsed, call)} becomes {name}.args[0]", (Edit(call, (first,)),)
        )


@operator(
    "CM606-message-repr",
    "an error's `str(e)` becomes `repr(e)`",
    "the error's message is str(e), not its repr with the class name around it",
)
def message_repr(parsed: ParsedSource) -> Iterator[Mutation]:
    for call, name in _messages(parsed):
        shown = ast.Call(ast.Name("repr", ast.Load()), [ast.Name(name, ast.Load())], [])
        yield Mutation(call.lineno, f"str({name}) {where(parsed, call)} becomes repr({name})", (Edit(call, (shown,)),))


OPERATORS = (
    catch_base_exception,
    swallow_fatal,
    convert_fatal,
    no_cancel_after_fatal,
    message_args0,
    message_repr,
)
