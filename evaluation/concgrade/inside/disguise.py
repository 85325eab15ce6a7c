"""Probes the code under test cannot see: the probed function stays itself, or its wrapper hides that it is one.

A plain Python function (no closure, not a generator) keeps its identity: its code object is swapped for one
that counts the call and then runs a copy of the original, with the same name, file, line, signature and
defaults (`instrument`), and swapped back afterwards. Anything else gets a wrapper that looks like the function
but has no `__wrapped__` (`quiet_wraps`): the attribute that tells a wrapper from the real thing.
Standard library only: it runs beside the code under test.
"""

from __future__ import annotations

import functools
import inspect
import types
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

ENTER, ORIGINAL, EXIT = "__probe_enter__", "__probe_original__", "__probe_exit__"
# Code objects put in place by `instrument`, each with the code it stands for (the guard accepts these).
SWAPPED: dict[int, types.CodeType] = {}


def quiet_wraps(original: Callable[..., Any]) -> Callable[[F], F]:
    """functools.wraps without the `__wrapped__` that would point at the original."""

    def decorate(wrapper: F) -> F:
        functools.update_wrapper(wrapper, original)
        wrapper.__dict__.pop("__wrapped__", None)
        return wrapper

    return decorate


def can_instrument(function: Any) -> bool:
    """A plain function whose code can be swapped in place (a closure's cells would not fit another code)."""
    return (
        isinstance(function, types.FunctionType)
        and function.__closure__ is None
        and not inspect.isgeneratorfunction(function)
        and not inspect.isasyncgenfunction(function)
    )


def instrument(
    function: types.FunctionType, enter: Callable[[], None], leave: Callable[[bool], None]
) -> types.CodeType:
    """Swap `function`'s code for one that calls enter(), a copy of the original, then leave(failed).

    Returns the original code, for `restore`.
    """
    original = function.__code__
    copy = types.FunctionType(original, function.__globals__, function.__name__, function.__defaults__, None)
    copy.__kwdefaults__ = function.__kwdefaults__
    template = _template(original, inspect.iscoroutinefunction(function))
    constants = {ENTER: enter, ORIGINAL: copy, EXIT: leave}
    code = template.replace(
        co_consts=tuple(constants.get(c, c) if isinstance(c, str) else c for c in template.co_consts),
        co_name=original.co_name,
        co_filename=original.co_filename,
        co_firstlineno=original.co_firstlineno,
        **({"co_qualname": original.co_qualname} if hasattr(original, "co_qualname") else {}),
    )
    function.__code__ = code
    SWAPPED[id(code)] = original
    return original


def restore(function: types.FunctionType, original: types.CodeType) -> None:
    """Put the original code back, unless something else replaced the swapped code since."""
    current = function.__code__
    if SWAPPED.get(id(current)) is original:
        function.__code__ = original
        SWAPPED.pop(id(current), None)


def _template(code: types.CodeType, is_async: bool) -> types.CodeType:
    """A function with the same parameters as `code` that forwards them to the ORIGINAL constant."""
    bare = inspect.signature(types.FunctionType(code, {}))  # parameters only: defaults live on the function
    empty = inspect.Parameter.empty
    parameters = [p.replace(default=empty, annotation=empty) for p in bare.parameters.values()]
    spelled = str(bare.replace(parameters=parameters, return_annotation=inspect.Signature.empty))
    forward = []
    for parameter in parameters:
        kind = parameter.kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            forward.append(f"*{parameter.name}")
        elif kind is inspect.Parameter.KEYWORD_ONLY:
            forward.append(f"{parameter.name}={parameter.name}")
        elif kind is inspect.Parameter.VAR_KEYWORD:
            forward.append(f"**{parameter.name}")
        else:
            forward.append(parameter.name)
    call = f"{'await ' if is_async else ''}{ORIGINAL!r}({', '.join(forward)})"
    source = (
        f"{'async ' if is_async else ''}def probed{spelled}:\n"
        f"    {ENTER!r}()\n"
        "    __probe_failed = True\n"
        "    try:\n"
        f"        __probe_result = {call}\n"
        "        __probe_failed = False\n"
        "        return __probe_result\n"
        "    finally:\n"
        f"        {EXIT!r}(__probe_failed)\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "'str' object is not callable": the strings are replaced below
        module = compile(source, "<probe>", "exec")
    return next(c for c in module.co_consts if isinstance(c, types.CodeType))
