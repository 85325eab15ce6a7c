"""Concurrency rules over an implementation's source: stable ids, severities, findings with locations."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from concgrade.findings import Finding, Severity
from concgrade.static.pysource import (
    COMPREHENSIONS,
    POOL_KINDS,
    SEMAPHORE_KINDS,
    ParsedSource,
    global_inits,
    is_bounded,
    size_argument,
    walk_scope,
)


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity  # the usual severity; CG108 varies with who owns the pool (see its summary)
    title: str
    summary: str


RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "CG100",
            "error",
            "source does not parse",
            "The file is not valid Python; no other rule ran on it.",
        ),
        Rule(
            "CG101",
            "warning",
            "executor or pool created on every call",
            "A pool built inside a function (with or without `with`) starts workers on each call, and "
            "concurrent callers each get their own, so nothing bounds total concurrency. Exempt: module "
            "level, a lazily built global guarded by a lock, `self.` attributes, factories that return "
            "the pool, and `main`.",
        ),
        Rule(
            "CG102",
            "warning",
            "thread or process created in a loop",
            "One thread or process per item is unbounded concurrency. A `range(...)` loop with no `len()` "
            "in it is taken as a fixed-size worker pool and not flagged.",
        ),
        Rule(
            "CG103",
            "error",
            "pool or semaphore sized from the input's length",
            "`max_workers=len(items)` (or `Semaphore(len(items))`) bounds nothing: the limit grows with "
            "the input. `min(len(items), N)` is bounded and not flagged.",
        ),
        Rule(
            "CG104",
            "warning",
            "submitting in a loop with nothing bounding the pending work",
            "`submit` / `apply_async` / `run_in_executor` / `create_task` in a loop with no `wait`, "
            "`as_completed`, `.result()`, semaphore acquire or bounded queue `put` in the loop (or an "
            "enclosing one) queues the whole input at once; also `Executor.map` on a known executor and "
            "`asyncio.gather(*(f(x) for x in items))`. Loops over `range(N)` / `islice` are a fixed count.",
        ),
        Rule(
            "CG105",
            "warning",
            "unbounded queue",
            "`Queue()` without a maxsize above zero (or a SimpleQueue) lets producers run ahead without limit.",
        ),
        Rule(
            "CG106",
            "error",
            "bare except or except BaseException that does not re-raise",
            "Swallows KeyboardInterrupt, SystemExit and cancellation, which defeats timeouts and shutdown.",
        ),
        Rule(
            "CG107",
            "warning",
            "polling with sleep in a loop",
            "`time.sleep` / `asyncio.sleep` in a `while` loop is busy-waiting; use an Event, Condition, "
            "`wait` or a queue. Sleeps in an `except` (retry backoff) and `asyncio.sleep(0)` are exempt.",
        ),
        Rule(
            "CG108",
            "error",
            "executor or pool never shut down",
            "error: a pool local to a function with no `with`, `shutdown`, `close` or `terminate` (its "
            "workers outlive each call); warning: a pool owned by an attribute that nothing shuts down; "
            "info: a module-global pool with no shutdown or atexit hook (interpreter exit joins threads).",
        ),
        Rule(
            "CG109",
            "warning",
            "global pool built lazily without a lock",
            "`if _pool is None: _pool = Executor()` outside a lock lets two callers build two pools (one leaks).",
        ),
    )
}


def render_rules_table() -> str:
    """The rule table as Markdown, for docs and `--help` output."""
    rows = ["| id | severity | rule | details |", "| --- | --- | --- | --- |"]
    rows += [f"| {r.id} | {r.severity} | {r.title} | {r.summary} |" for r in RULES.values()]
    return "\n".join(rows)


def find_issues(sources: Mapping[str, str]) -> list[Finding]:
    """Run every rule on every file; a file that does not parse yields one CG100 finding."""
    findings: list[Finding] = []
    for path in sorted(sources):
        try:
            parsed = ParsedSource.parse(path, sources[path])
        except (SyntaxError, ValueError, RecursionError) as exc:
            line = exc.lineno if isinstance(exc, SyntaxError) else None
            message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
            findings.append(_finding("CG100", f"cannot parse: {message}", path, line))
            continue
        for check in _CHECKS:
            findings.extend(check(parsed))
    return sorted(findings, key=lambda f: (f.path or "", f.line or 0, f.id))


def _finding(rule_id: str, message: str, path: str, line: int | None, severity: Severity | None = None) -> Finding:
    return Finding(rule_id, severity or RULES[rule_id].severity, message, path, line)


# --- pools: CG101, CG108, CG109 ---------------------------------------------------------------------


def _pool_calls(parsed: ParsedSource) -> Iterator[tuple[ast.Call, str, str]]:
    for call in parsed.calls():
        found = parsed.call_kind(call)
        if found and found[0] in POOL_KINDS:
            yield call, found[0], found[1]


def _check_pools(parsed: ParsedSource) -> Iterator[Finding]:
    inits = {id(init.call): init for init in global_inits(parsed)}
    for call, _kind, name in _pool_calls(parsed):
        short = name.rsplit(".", 1)[-1]
        init = inits.get(id(call))
        func = parsed.enclosing_function(call)
        if init is not None and init.checked:
            if not init.guarded:
                yield _finding(
                    "CG109",
                    f"global `{init.name}` is checked and built outside a lock in `{init.function}`: two "
                    f"callers can both build a {short}; guard the check and the assignment with one lock",
                    parsed.path,
                    call.lineno,
                )
            yield from _global_shutdown(parsed, call, init.name, short)
            continue
        if func is None:
            yield from _module_pool(parsed, call, short)
            continue
        yield from _function_pool(parsed, call, func, short)


def _module_pool(parsed: ParsedSource, call: ast.Call, short: str) -> Iterator[Finding]:
    owner = parsed.parents.get(call)
    if isinstance(owner, ast.withitem):
        return
    target = _assigned_name(parsed, call)
    if target:
        yield from _global_shutdown(parsed, call, target, short)


def _global_shutdown(parsed: ParsedSource, call: ast.Call, name: str, short: str) -> Iterator[Finding]:
    if not _shut_down_anywhere(parsed, name) and not _has_atexit(parsed):
        yield _finding(
            "CG108",
            f"module-global {short} `{name}` is never shut down and no atexit hook is registered; "
            "pending work is only joined at interpreter exit",
            parsed.path,
            call.lineno,
            severity="info",
        )


def _function_pool(parsed: ParsedSource, call: ast.Call, func: ast.AST, short: str) -> Iterator[Finding]:
    owner = parsed.parents.get(call)
    name = parsed.qualname(func)
    attr = _attribute_target(owner) if isinstance(owner, (ast.Assign, ast.AnnAssign)) else None
    if attr:
        if not _shut_down_anywhere(parsed, attr):
            yield _finding(
                "CG108",
                f"{short} stored in `.{attr}`"
                " is never shut down: give its owner a close()/shutdown() or use it as a context manager",
                parsed.path,
                call.lineno,
                severity="warning",
            )
        return
    local = _assigned_name(parsed, call)
    if _returned(func, call, local) or getattr(func, "name", "") == "main" or (local and _escapes(func, local)):
        return
    yield _finding(
        "CG101",
        f"`{name}` creates a {short} on every call: concurrent callers each get their own workers; "
        "share one long-lived pool (module level or a lock-guarded lazy global)",
        parsed.path,
        call.lineno,
    )
    if isinstance(owner, ast.withitem) or _passed_on(owner):
        return
    if local is None or not (_shut_down_in(func, local) or _handed_off(func, local)):
        yield _finding(
            "CG108",
            f"{short} created in `{name}` is never shut down: every call leaks its workers; "
            "use `with` or call shutdown()/close() in a finally",
            parsed.path,
            call.lineno,
        )


def _assigned_name(parsed: ParsedSource, call: ast.Call) -> str | None:
    owner = parsed.parents.get(call)
    if isinstance(owner, ast.Assign) and len(owner.targets) == 1 and isinstance(owner.targets[0], ast.Name):
        return owner.targets[0].id
    if isinstance(owner, ast.AnnAssign) and isinstance(owner.target, ast.Name):
        return owner.target.id
    return None


def _attribute_target(owner: ast.Assign | ast.AnnAssign) -> str | None:
    targets = owner.targets if isinstance(owner, ast.Assign) else [owner.target]
    for target in targets:
        if isinstance(target, ast.Attribute):
            return target.attr
    return None


def _passed_on(owner: ast.AST | None) -> bool:
    """A pool handed straight to another call (e.g. `stack.enter_context(Pool())`) is owned by it."""
    return isinstance(owner, (ast.Call, ast.keyword))


def _returned(func: ast.AST, call: ast.Call, local: str | None) -> bool:
    """A factory that returns the pool hands ownership (and shutdown) to its caller."""
    for node in walk_scope(func):
        if isinstance(node, ast.Return) and node.value is not None:
            values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
            if any(v is call or (local and _is_name(v, local)) for v in values):
                return True
    return False


def _escapes(func: ast.AST, local: str) -> bool:
    """`ex = Pool(); self._pool = ex` (or a global): the pool outlives the call, owned elsewhere."""
    declared = {n for node in walk_scope(func) if isinstance(node, ast.Global) for n in node.names}
    for node in walk_scope(func):
        if isinstance(node, ast.Assign) and _is_name(node.value, local):
            for target in node.targets:
                # self._pool = ex, POOLS[key] = ex, or a declared global: stored beyond this call.
                if isinstance(target, (ast.Attribute, ast.Subscript)):
                    return True
                if isinstance(target, ast.Name) and target.id in declared:
                    return True
    return False


def _handed_off(func: ast.AST, local: str) -> bool:
    """`loop.set_default_executor(ex)`, `serve(ex)`: the callee may own the shutdown, so no error is sure."""
    for node in walk_scope(func):
        if isinstance(node, ast.Call):
            if any(_is_name(a, local) for a in node.args) or any(_is_name(k.value, local) for k in node.keywords):
                return True
    return False


_SHUTDOWN_METHODS = {"shutdown", "close", "terminate"}


def _shut_down_in(scope: ast.AST, name: str, nodes: list[ast.AST] | None = None) -> bool:
    """`name.shutdown()`, `with name:`, or `name` passed to a call (atexit.register, enter_context...)."""
    for node in ast.walk(scope) if nodes is None else nodes:
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in _SHUTDOWN_METHODS and _names(func.value, name):
                return True
            if any(_is_name(arg, name) for arg in node.args):
                if isinstance(func, ast.Attribute) and func.attr in ("register", "enter_context", "callback"):
                    return True
        if isinstance(node, (ast.With, ast.AsyncWith)) and any(_names(i.context_expr, name) for i in node.items):
            return True
    return False


def _shut_down_anywhere(parsed: ParsedSource, name: str) -> bool:
    return _shut_down_in(parsed.tree, name, parsed.nodes)


def _has_atexit(parsed: ParsedSource) -> bool:
    for call in parsed.calls():
        if parsed.resolve(call.func) == "atexit.register":
            return True
    for node in parsed.nodes:
        for decorator in getattr(node, "decorator_list", ()):
            if parsed.resolve(decorator) == "atexit.register":
                return True
    return False


def _names(expr: ast.AST, name: str) -> bool:
    """`name`, or an attribute ending in `.name` (`self._pool`)."""
    return _is_name(expr, name) or (isinstance(expr, ast.Attribute) and expr.attr == name)


def _is_name(expr: ast.AST, name: str) -> bool:
    return isinstance(expr, ast.Name) and expr.id == name


# --- CG102 threads or processes in a loop ----------------------------------------------------------


def _check_spawn_in_loop(parsed: ParsedSource) -> Iterator[Finding]:
    for call in parsed.calls():
        found = parsed.call_kind(call)
        if not found or found[0] not in ("thread", "process"):
            continue
        loop = parsed.enclosing_loop(call)
        if loop is None or _fixed_count(loop):
            continue
        yield _finding(
            "CG102",
            f"a {found[0]} ({found[1]}) is started per loop iteration: concurrency grows with the input; "
            "use a bounded pool or a fixed number of workers",
            parsed.path,
            call.lineno,
        )


def _fixed_count(loop: ast.AST) -> bool:
    """A loop over `range(N)`, `zip(..., range(N))` or `islice(it, N)` with no len() in it runs a fixed
    number of times (a worker count, a first batch), not once per input item."""
    iters = [loop.iter] if isinstance(loop, (ast.For, ast.AsyncFor)) else []
    iters += [g.iter for g in getattr(loop, "generators", ())]
    if not iters:
        return False
    return all(_has_counter(it) and not _has_len(it) for it in iters)


def _has_counter(expr: ast.AST) -> bool:
    for node in ast.walk(expr):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name in ("range", "islice"):
                return True
    return False


def _has_len(expr: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "len" for n in ast.walk(expr))


# --- CG103 sized from the input's length -----------------------------------------------------------


def _check_len_sized(parsed: ParsedSource) -> Iterator[Finding]:
    for call in parsed.calls():
        found = parsed.call_kind(call)
        if not found or found[0] not in POOL_KINDS | SEMAPHORE_KINDS:
            continue
        size = size_argument(call, *found)
        if size is None:
            continue
        func = parsed.enclosing_function(call)
        if _grows_with_input(_expand(size, func, call)):
            yield _finding(
                "CG103",
                f"{found[1].rsplit('.', 1)[-1]} sized by `{ast.unparse(size)}` grows with the input and "
                "bounds nothing; use a fixed limit, e.g. min(len(items), MAX_WORKERS)",
                parsed.path,
                call.lineno,
            )


def _expand(size: ast.expr, func: ast.AST | None, call: ast.Call) -> ast.expr:
    """Follow `n = len(items)` once: the last simple assignment of a name before the call."""
    if not isinstance(size, ast.Name) or func is None:
        return size
    value = None
    for node in walk_scope(func):
        if isinstance(node, ast.Assign) and node.lineno < call.lineno and len(node.targets) == 1:
            if _is_name(node.targets[0], size.id) and (value is None or node.lineno > value[0]):
                value = (node.lineno, node.value)
    return value[1] if value else size


def _grows_with_input(expr: ast.AST) -> bool:
    """len() anywhere, unless a min() caps it with an argument that does not grow."""
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
        if expr.func.id == "len":
            return True
        if expr.func.id == "min":
            return all(_grows_with_input(arg) for arg in expr.args)
        if expr.func.id == "max":
            return any(_grows_with_input(arg) for arg in expr.args)
    if isinstance(expr, ast.BinOp):
        return _grows_with_input(expr.left) or _grows_with_input(expr.right)
    if isinstance(expr, ast.IfExp):
        return _grows_with_input(expr.body) or _grows_with_input(expr.orelse)
    return False


# --- CG104 unbounded submission --------------------------------------------------------------------

_SUBMIT_METHODS = {"submit", "apply_async", "run_in_executor", "create_task"}
_BOUNDING_KINDS = {"wait", "as_completed"}


def _check_unbounded_submit(parsed: ParsedSource) -> Iterator[Finding]:
    bounded_queues, semaphores = _bounding_names(parsed)
    executors = _executor_names(parsed)
    reported: set[int] = set()
    for call in parsed.calls():
        if not _is_submission(parsed, call):
            continue
        loops = _enclosing_loops(parsed, call)
        if not loops or id(loops[0]) in reported or _fixed_count(loops[0]):
            continue
        # A bound in an outer loop counts too: `while pending: wait(...); for f in done: submit(...)`.
        if any(_loop_is_bounded(parsed, loop, bounded_queues, semaphores) for loop in loops):
            continue
        loop = loops[0]
        reported.add(id(loop))
        yield _finding(
            "CG104",
            f"`{ast.unparse(call.func)}` in a loop with nothing bounding the pending work: the whole input "
            "is queued at once; wait for completions (wait/as_completed) or acquire a semaphore per item",
            parsed.path,
            call.lineno,
        )
    for call in parsed.calls():
        func = call.func
        if parsed.resolve(func) == "asyncio.gather" and _gathers_per_item(call):
            yield _finding(
                "CG104",
                "`asyncio.gather(*(... for ...))` wraps every item in a live task at once; a semaphore inside "
                "bounds running calls, not tasks: feed a fixed set of workers from a queue instead",
                parsed.path,
                call.lineno,
            )
        if isinstance(func, ast.Attribute) and func.attr == "map" and _names_any(func.value, executors):
            yield _finding(
                "CG104",
                f"`{ast.unparse(func)}` submits every item up front; for large inputs submit in bounded batches",
                parsed.path,
                call.lineno,
            )


def _gathers_per_item(call: ast.Call) -> bool:
    """`gather(*(f(x) for x in items))`: a comprehension over the input, not over a fixed range."""
    for arg in call.args:
        if isinstance(arg, ast.Starred) and isinstance(arg.value, COMPREHENSIONS):
            element = getattr(arg.value, "elt", None)  # a dict comprehension has key and value instead
            if not _fixed_count(arg.value) and isinstance(element, ast.Call):
                return True
    return False


def _is_submission(parsed: ParsedSource, call: ast.Call) -> bool:
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in _SUBMIT_METHODS or not call.args:
        return parsed.resolve(func) in ("asyncio.create_task", "asyncio.ensure_future")
    return True


def _enclosing_loops(parsed: ParsedSource, node: ast.AST) -> list[ast.AST]:
    loops = []
    loop = parsed.enclosing_loop(node)
    while loop is not None:
        loops.append(loop)
        loop = parsed.enclosing_loop(loop)
    return loops


def _loop_is_bounded(parsed: ParsedSource, loop: ast.AST, queues: set[str], semaphores: set[str]) -> bool:
    for node in walk_scope(loop):
        if isinstance(node, ast.Call):
            found = parsed.call_kind(node)
            if found and found[0] in _BOUNDING_KINDS:
                return True
            func = node.func
            if isinstance(func, ast.Attribute):
                # Any acquire counts: the semaphore is often a parameter we cannot trace.
                if func.attr in ("result", "acquire"):
                    return True
                if func.attr == "put" and _names_any(func.value, queues):
                    return True
        if isinstance(node, ast.Await) and isinstance(node.value, ast.Call):
            # `await sem.acquire()` / awaiting a task per item keeps the pending set bounded.
            inner = node.value.func
            if isinstance(inner, ast.Attribute) and inner.attr == "acquire":
                return True
        if isinstance(node, (ast.With, ast.AsyncWith)):
            if any(_names_any(item.context_expr, semaphores) for item in node.items):
                return True
    return False


def _bounding_names(parsed: ParsedSource) -> tuple[set[str], set[str]]:
    """Names (or attribute names) bound to bounded queues, and to semaphores."""
    queues: set[str] = set()
    semaphores: set[str] = set()
    for node, call, kind, name in _bound_constructs(parsed):
        if kind in SEMAPHORE_KINDS:
            semaphores |= _target_names(node)
        elif is_bounded(call, kind, name):
            queues |= _target_names(node)
    return queues, semaphores


def _executor_names(parsed: ParsedSource) -> set[str]:
    names: set[str] = set()
    for node, _call, kind, _name in _bound_constructs(parsed):
        if kind in POOL_KINDS:
            names |= _target_names(node)
    for node in parsed.nodes:
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                found = isinstance(item.context_expr, ast.Call) and parsed.call_kind(item.context_expr)
                if found and found[0] in POOL_KINDS and item.optional_vars is not None:
                    names |= _target_names(item)
    return names


def _bound_constructs(parsed: ParsedSource) -> Iterator[tuple[ast.AST, ast.Call, str, str]]:
    for node in parsed.nodes:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
            found = parsed.call_kind(node.value)
            if found:
                yield node, node.value, found[0], found[1]


def _target_names(node: ast.AST) -> set[str]:
    targets: list[ast.expr | None]
    if isinstance(node, ast.withitem):
        targets = [node.optional_vars]
    elif isinstance(node, ast.Assign):
        targets = list(node.targets)
    else:
        targets = [getattr(node, "target", None)]
    names = set()
    for target in targets:
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def _names_any(expr: ast.AST, names: set[str]) -> bool:
    return any(_names(expr, name) for name in names)


# --- CG105 unbounded queues ------------------------------------------------------------------------


def _check_unbounded_queue(parsed: ParsedSource) -> Iterator[Finding]:
    for call in parsed.calls():
        found = parsed.call_kind(call)
        if found and found[0] in ("queue", "async_queue") and is_bounded(call, *found) is False:
            yield _finding(
                "CG105",
                f"{found[1]}() has no maxsize: producers can run ahead of consumers without limit",
                parsed.path,
                call.lineno,
            )


# --- CG106 swallowed BaseException -----------------------------------------------------------------


def _check_swallowing_except(parsed: ParsedSource) -> Iterator[Finding]:
    for node in parsed.nodes:
        if not isinstance(node, ast.ExceptHandler) or not _catches_base(parsed, node.type):
            continue
        body = [n for stmt in node.body for n in [stmt, *walk_scope(stmt)]]
        if any(isinstance(n, ast.Raise) for n in body):
            continue
        use = _exception_use(node, body)
        if use == "handed_off":
            continue
        if _interrupts_reraised_before(parsed, node):
            use = "used"  # KeyboardInterrupt and SystemExit escape; only cancellation is still swallowed
        what = "bare `except:`" if node.type is None else f"`except {ast.unparse(node.type)}`"
        yield _finding(
            "CG106",
            f"{what} without re-raising swallows KeyboardInterrupt, SystemExit and cancellation; "
            "catch Exception, or re-raise",
            parsed.path,
            node.lineno,
            # Passing the exception to some other call may forward it; only a handler that drops it is sure.
            severity="warning" if use == "used" else None,
        )


def _interrupts_reraised_before(parsed: ParsedSource, handler: ast.ExceptHandler) -> bool:
    """`except (SystemExit, KeyboardInterrupt): raise` ahead of this handler in the same try."""
    owner = parsed.parents.get(handler)
    for earlier in getattr(owner, "handlers", [])[: getattr(owner, "handlers", []).index(handler)]:
        caught = earlier.type.elts if isinstance(earlier.type, ast.Tuple) else [earlier.type]
        names = {c.id for c in caught if isinstance(c, ast.Name)}
        if "KeyboardInterrupt" in names and any(isinstance(s, ast.Raise) for s in earlier.body):
            return True
    return False


_HAND_OFF_METHODS = {"set_exception", "put", "put_nowait", "send", "append", "throw"}


def _exception_use(handler: ast.ExceptHandler, body: list[ast.AST]) -> str:
    """ "handed_off" (set_exception, put, stored, returned), "used" (any other mention), or "dropped"."""
    name = handler.name
    if not name:
        return "dropped"
    used = False
    for node in body:
        if isinstance(node, ast.Call) and any(_is_name(arg, name) for arg in node.args):
            used = True
            if isinstance(node.func, ast.Attribute) and node.func.attr in _HAND_OFF_METHODS:
                return "handed_off"
        elif isinstance(node, ast.Assign) and _is_name(node.value, name):
            return "handed_off"
        elif isinstance(node, (ast.Return, ast.Yield)) and node.value is not None and _is_name(node.value, name):
            return "handed_off"
        elif _is_name(node, name):
            used = True
    return "used" if used else "dropped"


def _catches_base(parsed: ParsedSource, expr: ast.AST | None) -> bool:
    if expr is None:
        return True
    if isinstance(expr, ast.Tuple):
        return any(_catches_base(parsed, e) for e in expr.elts)
    return (isinstance(expr, ast.Name) and expr.id == "BaseException") or parsed.resolve(expr) in (
        "builtins.BaseException",
    )


# --- CG107 polling with sleep ----------------------------------------------------------------------


def _check_sleep_polling(parsed: ParsedSource) -> Iterator[Finding]:
    for call in parsed.calls():
        name = parsed.resolve(call.func)
        if name not in ("time.sleep", "asyncio.sleep"):
            continue
        if call.args and _is_zero(call.args[0]):
            continue  # sleep(0) yields to other threads or tasks; it does not wait for anything
        loop = parsed.enclosing_loop(call)
        if not isinstance(loop, ast.While) or any(parsed.within(call, (ast.ExceptHandler,))):
            continue
        yield _finding(
            "CG107",
            f"`{ast.unparse(call)}` in a while loop polls; block on an Event, Condition, wait() or a queue",
            parsed.path,
            call.lineno,
        )


def _is_zero(expr: ast.AST) -> bool:
    return isinstance(expr, ast.Constant) and expr.value == 0


_CHECKS = (
    _check_pools,
    _check_spawn_in_loop,
    _check_len_sized,
    _check_unbounded_submit,
    _check_unbounded_queue,
    _check_swallowing_except,
    _check_sleep_polling,
)
