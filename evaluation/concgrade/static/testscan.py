"""What a task's test files declare and do, read from their AST: test ids, report tampering, paths, writes."""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from concgrade.static.pysource import ParsedSource

_TEST_PREFIX = "test"
_CLASS_PREFIX = "Test"
_WRITE_MODES = set("wax+")
_WRITE_METHODS = {"write_text", "write_bytes", "touch", "unlink", "rmdir", "rename", "replace"}
_WRITE_FUNCTIONS = {
    "os.remove",
    "os.unlink",
    "os.rename",
    "os.replace",
    "shutil.rmtree",
    "shutil.copy",
    "shutil.copy2",
    "shutil.copyfile",
    "shutil.copytree",
    "shutil.move",
}
_SOURCE_READERS = {"inspect.getsource", "inspect.getsourcelines", "inspect.getsourcefile"}
_TAMPERED_ATTRIBUTES = {"outcome", "wasxfail"}  # a report's: rewriting them changes what a test did
_SIDES = ("repository_before", "repository_after")


@dataclass(frozen=True)
class Hit:
    """Something found in a file: its line and a short description."""

    line: int
    message: str


def test_ids(tree: ast.Module) -> set[str]:
    """Node-id suffixes a file defines: `test_a`, `TestC`, `TestC::test_m`, `TestC::Inner::test_x`.

    A class with a base defined elsewhere may inherit tests; `TestC::*` marks it so any method id is accepted.
    """
    ids: set[str] = set()
    local_classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(_TEST_PREFIX):
            ids.add(node.name)
        elif isinstance(node, ast.Assign):
            # `test_x = make_test(...)` defines a test too.
            ids.update(t.id for t in node.targets if isinstance(t, ast.Name) and t.id.startswith(_TEST_PREFIX))
        elif isinstance(node, ast.ClassDef) and node.name.startswith(_CLASS_PREFIX):
            ids.update(_class_ids(node, node.name, local_classes))
    return ids


def _class_ids(node: ast.ClassDef, prefix: str, local_classes: dict[str, ast.ClassDef]) -> set[str]:
    ids = {prefix}
    for base in node.bases:
        name = base.id if isinstance(base, ast.Name) else None
        if name in local_classes and local_classes[name] is not node:
            ids |= {prefix + i[len(name) :] for i in _class_ids(local_classes[name], name, local_classes)}
        elif name != "object":
            ids.add(prefix + "::*")  # inherited from a class we cannot see: accept any method
    for child in node.body:
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and child.name.startswith(_TEST_PREFIX):
            ids.add(f"{prefix}::{child.name}")
        elif isinstance(child, ast.ClassDef) and child.name.startswith(_CLASS_PREFIX):
            ids |= _class_ids(child, f"{prefix}::{child.name}", local_classes)
    return ids


def defines(ids: set[str], suffix: str) -> bool:
    """Whether a node-id suffix (parameters already stripped) names something in `ids`."""
    if suffix in ids:
        return True
    head, _, _ = suffix.rpartition("::")
    return bool(head) and f"{head}::*" in ids


def report_tampering(parsed: ParsedSource) -> Iterator[Hit]:
    """Conftest code that rewrites test outcomes (what each test did, which the grade reads)."""
    for node in parsed.nodes:
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            for target in _targets(node):
                if isinstance(target, ast.Attribute) and target.attr in _TAMPERED_ATTRIBUTES:
                    yield Hit(node.lineno, f"assigns `{ast.unparse(target)}`")
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr == "force_result":
                yield Hit(node.lineno, "replaces a hook's result with force_result")
            elif _setattr_of(node) in _TAMPERED_ATTRIBUTES:
                yield Hit(node.lineno, f"sets `{_setattr_of(node)}` with setattr")


def exit_status_forcing(parsed: ParsedSource) -> Iterator[Hit]:
    """Conftest code that chooses pytest's exit status (the task's CI then says nothing; the grade is unaffected)."""
    for node in parsed.nodes:
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            for target in _targets(node):
                if isinstance(target, ast.Attribute) and target.attr == "exitstatus":
                    yield Hit(node.lineno, f"assigns `{ast.unparse(target)}`")
        elif isinstance(node, ast.Call):
            name = parsed.resolve(node.func)
            if name == "os._exit":
                yield Hit(node.lineno, "calls os._exit, which ends pytest without a report")
            elif name == "pytest.exit" and any(kw.arg == "returncode" for kw in node.keywords):
                yield Hit(node.lineno, "calls pytest.exit with a chosen returncode")
            elif _setattr_of(node) == "exitstatus":
                yield Hit(node.lineno, "sets `exitstatus` with setattr")


def _targets(node: ast.Assign | ast.AugAssign | ast.AnnAssign) -> list[ast.expr]:
    return list(node.targets) if isinstance(node, ast.Assign) else [node.target]


def _setattr_of(call: ast.Call) -> str | None:
    """The attribute name a `setattr(obj, "name", value)` call sets, when it is written out."""
    if isinstance(call.func, ast.Name) and call.func.id == "setattr" and len(call.args) >= 2:
        attr = call.args[1]
        if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
            return attr.value
    return None


def string_constants(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def hard_coded_paths(tree: ast.Module) -> tuple[list[Hit], list[Hit]]:
    """(one implementation folder named without the other, `/app` paths) in a test file's strings."""
    constants = list(string_constants(tree))
    naming = [(line, value) for line, value in constants if any(side in value for side in _SIDES)]
    sides = {side for _, value in naming for side in _SIDES if side in value}
    # A file naming both folders maps the toggle to them (e.g. {"before": ..., "after": ...}); one is a pin.
    pinned = [] if len(sides) == 2 else [Hit(line, value) for line, value in naming]
    app = [Hit(line, value) for line, value in constants if value == "/app" or value.startswith("/app/")]
    return pinned, app


def source_only_tests(parsed: ParsedSource, modules: Collection[str]) -> Iterator[Hit]:
    """Tests that read the implementation's source text and never call into it."""
    impl_names = _implementation_names(parsed, modules)  # may be empty: a test can read a file it never imports
    tree = parsed.tree
    grep_globals = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign) and _reads_source(parsed, node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    callers = _functions_calling(parsed, impl_names)
    for test in _test_functions(tree):
        greps = _reads_source(parsed, test) or any(
            isinstance(n, ast.Name) and n.id in grep_globals for n in ast.walk(test)
        )
        if greps and not _calls_any(test, impl_names | callers):
            yield Hit(test.lineno, test.name)


def _implementation_names(parsed: ParsedSource, modules: Collection[str]) -> set[str]:
    """Local names bound to implementation modules or to things imported from them."""
    tops = set(modules)
    return {local for local, qualified in parsed.aliases.items() if qualified.split(".")[0] in tops}


def _reads_source(parsed: ParsedSource, node: ast.AST) -> bool:
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        if parsed.resolve(call.func) in _SOURCE_READERS:
            return True
        func = call.func
        reader = (isinstance(func, ast.Name) and func.id == "open") or (
            isinstance(func, ast.Attribute) and func.attr in ("read_text", "read_bytes", "open")
        )
        if reader and any(_names_python_file(n) for n in ast.walk(call)):
            return True
    return False


def _names_python_file(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.endswith(".py")
    return isinstance(node, ast.Attribute) and node.attr == "__file__" and not _is_dunder_file_of_test(node)


def _is_dunder_file_of_test(node: ast.Attribute) -> bool:
    return isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")


def _functions_calling(parsed: ParsedSource, names: set[str]) -> set[str]:
    """Module-level helpers that (directly or through other helpers) call into the implementation."""
    helpers = {n.name: n for n in parsed.tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, func in helpers.items():
            if name not in found and _calls_any(func, names | found):
                found.add(name)
                changed = True
    return found


def _calls_any(node: ast.AST, names: set[str]) -> bool:
    for call in ast.walk(node):
        # getsource(f) takes f itself, not a call of f: any call rooted at an implementation name is real.
        if isinstance(call, ast.Call) and _root_name(call.func) in names:
            return True
    return False


def _root_name(expr: ast.AST) -> str | None:
    while isinstance(expr, (ast.Attribute, ast.Subscript)):
        expr = expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _test_functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(_TEST_PREFIX):
            yield node
        elif isinstance(node, ast.ClassDef) and node.name.startswith(_CLASS_PREFIX):
            for child in node.body:
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) and child.name.startswith(_TEST_PREFIX):
                    yield child


def tree_writes(parsed: ParsedSource) -> Iterator[Hit]:
    """Writes to paths derived from `__file__` or naming an implementation folder (inside the task tree)."""
    tainted = _tree_paths(parsed.tree)
    for call in parsed.calls():
        target = _written_path(parsed, call)
        if target is not None and _is_tree_path(target, tainted):
            yield Hit(call.lineno, ast.unparse(call)[:80])


def _tree_paths(tree: ast.Module) -> set[str]:
    """Names assigned from `__file__`-derived or repository paths, followed to a fixed point."""
    tainted: set[str] = set()
    assigns = [n for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None]
    changed = True
    while changed:
        changed = False
        for node in assigns:
            if node.value is None or not _is_tree_path(node.value, tainted):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id not in tainted:
                    tainted.add(target.id)
                    changed = True
    return tainted


def _is_tree_path(expr: ast.AST, tainted: set[str]) -> bool:
    for node in ast.walk(expr):
        if isinstance(node, ast.Name) and (node.id == "__file__" or node.id in tainted):
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "repository_" in node.value:
            return True
    return False


def _written_path(parsed: ParsedSource, call: ast.Call) -> ast.AST | None:
    """The path a call writes to (or removes), if it is a write."""
    func = call.func
    if isinstance(func, ast.Name) and func.id == "open":
        return call.args[0] if call.args and _write_mode(call, 1) else None
    if isinstance(func, ast.Attribute):
        if func.attr in _WRITE_METHODS:
            return func.value
        if func.attr == "open" and _write_mode(call, 0):
            return func.value
    name = parsed.resolve(func)
    if name in _WRITE_FUNCTIONS and call.args:
        return call.args[-1] if name.startswith("shutil.copy") or name == "shutil.move" else call.args[0]
    return None


def _write_mode(call: ast.Call, index: int) -> bool:
    mode = next((kw.value for kw in call.keywords if kw.arg == "mode"), None)
    if mode is None and len(call.args) > index:
        mode = call.args[index]
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and bool(_WRITE_MODES & set(mode.value))


_CLOCKS = {
    "time.time",
    "time.perf_counter",
    "time.perf_counter_ns",
    "time.monotonic",
    "time.monotonic_ns",
    "time.process_time",
    "timeit.timeit",
    "timeit.repeat",
    "timeit.default_timer",
}


def timing_assertions(parsed: ParsedSource) -> Iterator[Hit]:
    """Tests that read a clock and assert: their verdict depends on how loaded the machine is."""
    for test in _test_functions(parsed.tree):
        reads_clock = any(isinstance(n, ast.Call) and parsed.resolve(n.func) in _CLOCKS for n in ast.walk(test))
        if reads_clock and any(isinstance(n, ast.Assert) for n in ast.walk(test)):
            yield Hit(test.lineno, test.name)
