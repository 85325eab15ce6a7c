"""Structural metrics of an implementation's source: size, complexity, imports and concurrency constructs."""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from concgrade.static.pysource import (
    FUNCTION_NODES,
    ParsedSource,
    global_inits,
    is_bounded,
    size_argument,
)

_BRANCH_NODES = (ast.If, ast.IfExp, ast.For, ast.AsyncFor, ast.While, ast.ExceptHandler, ast.match_case)
_NESTING_NODES = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.Match)
_TRY_NODES = (ast.Try, ast.TryStar) if hasattr(ast, "TryStar") else (ast.Try,)
_NESTING_NODES += _TRY_NODES[1:]
_DYNAMIC_IMPORTERS = {"__import__", "builtins.__import__", "importlib.import_module", "importlib.__import__"}


class _Record:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]  # every subclass is a dataclass


@dataclass(frozen=True)
class SourceError(_Record):
    """A file that could not be parsed; its metrics are left out of the totals."""

    path: str
    line: int | None
    message: str


@dataclass(frozen=True)
class FunctionMetrics(_Record):
    """One function or method. `complexity_source` is "ast" where lizard skipped it (one-line defs)."""

    path: str
    name: str
    line: int
    end_line: int
    complexity: int
    max_nesting: int
    complexity_source: str = "lizard"


@dataclass(frozen=True)
class ImportUse(_Record):
    """One imported module. `origin`: stdlib, local, relative, third_party, or dynamic (not provable)."""

    path: str
    line: int
    module: str
    origin: str
    dynamic: bool = False


@dataclass(frozen=True)
class ConstructUse(_Record):
    """One use of a concurrency construct, e.g. kind "executor", name "concurrent.futures.ThreadPoolExecutor".

    `bounded`: queues, whether a maxsize above zero is given; semaphores, whether it is a BoundedSemaphore.
    `argument`: the source text of the size or bound argument, if any. `function`: the enclosing def.
    """

    kind: str
    name: str
    path: str
    line: int
    function: str | None = None
    bounded: bool | None = None
    argument: str | None = None


@dataclass(frozen=True)
class FileMetrics(_Record):
    path: str
    lines: int
    logical_lines: int
    functions: int
    classes: int
    max_complexity: int
    max_nesting: int
    error: SourceError | None = None


@dataclass(frozen=True)
class ImplementationMetrics:
    """Metrics of every file of one implementation, and their totals."""

    files: tuple[FileMetrics, ...]
    functions: tuple[FunctionMetrics, ...]
    imports: tuple[ImportUse, ...]
    constructs: tuple[ConstructUse, ...]
    references: tuple[str, ...]  # sorted qualified names of imported things the code refers to
    errors: tuple[SourceError, ...]

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    @property
    def logical_lines(self) -> int:
        return sum(f.logical_lines for f in self.files)

    @property
    def classes(self) -> int:
        return sum(f.classes for f in self.files)

    @property
    def max_complexity(self) -> int:
        return max((f.complexity for f in self.functions), default=0)

    @property
    def max_nesting(self) -> int:
        return max((f.max_nesting for f in self.files), default=0)

    @property
    def non_stdlib_imports(self) -> tuple[ImportUse, ...]:
        return tuple(i for i in self.imports if i.origin in ("third_party", "dynamic"))

    @property
    def stdlib_only(self) -> bool:
        """True only when every file parsed and every import is stdlib, local, or a literal stdlib name."""
        return not self.errors and not self.non_stdlib_imports

    @property
    def construct_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(c.kind for c in self.constructs).items()))

    def to_dict(self) -> dict:
        """JSON-ready view with the totals alongside the per-file and per-function records."""
        return {
            "lines": self.lines,
            "logical_lines": self.logical_lines,
            "functions": len(self.functions),
            "classes": self.classes,
            "max_complexity": self.max_complexity,
            "max_nesting": self.max_nesting,
            "stdlib_only": self.stdlib_only,
            "construct_counts": self.construct_counts,
            "files": [asdict(f) for f in self.files],
            "function_list": [asdict(f) for f in self.functions],
            "imports": [asdict(i) for i in self.imports],
            "constructs": [asdict(c) for c in self.constructs],
            "references": list(self.references),
            "errors": [asdict(e) for e in self.errors],
        }


def measure_sources(sources: Mapping[str, str], *, local_modules: Collection[str] = ()) -> ImplementationMetrics:
    """Measure every file of one implementation; `sources` maps a relative path to its text.

    Imports of `local_modules` and of the top-level names of the given files are task-local, not third-party.
    """
    local = set(local_modules) | {top_level_name(path) for path in sources}
    files: list[FileMetrics] = []
    functions: list[FunctionMetrics] = []
    imports: list[ImportUse] = []
    constructs: list[ConstructUse] = []
    references: set[str] = set()
    errors: list[SourceError] = []
    for path in sorted(sources):
        text = sources[path]
        try:
            parsed = ParsedSource.parse(path, text)
        except (SyntaxError, ValueError, RecursionError) as exc:
            error = _source_error(path, exc)
            errors.append(error)
            files.append(FileMetrics(path, _physical_lines(text), 0, 0, 0, 0, 0, error))
            continue
        file_functions = _functions(parsed)
        functions.extend(file_functions)
        imports.extend(_imports(parsed, local))
        constructs.extend(_constructs(parsed))
        references.update(_references(parsed))
        files.append(_file_metrics(parsed, file_functions))
    return ImplementationMetrics(
        tuple(files),
        tuple(functions),
        tuple(imports),
        tuple(constructs),
        tuple(sorted(references)),
        tuple(errors),
    )


def top_level_name(path: str) -> str:
    """Importable top-level name of a relative path: `notif/service.py` -> `notif`, `a.py` -> `a`."""
    first = path.replace("\\", "/").lstrip("./").split("/")[0]
    return first[:-3] if first.endswith(".py") else first


def delta(before: ImplementationMetrics, after: ImplementationMetrics) -> dict:
    """Numeric before -> after changes: {metric: {"before": b, "after": a, "delta": a - b}}."""
    result = {}
    for key in ("lines", "logical_lines", "functions", "classes", "max_complexity", "max_nesting"):
        result[key] = _change(_numeric(before, key), _numeric(after, key))
    result["mean_complexity"] = _change(_mean_complexity(before), _mean_complexity(after))
    result["imports"] = _change(len(before.imports), len(after.imports))
    result["non_stdlib_imports"] = _change(len(before.non_stdlib_imports), len(after.non_stdlib_imports))
    before_counts, after_counts = before.construct_counts, after.construct_counts
    for kind in sorted(set(before_counts) | set(after_counts)):
        result[f"constructs.{kind}"] = _change(before_counts.get(kind, 0), after_counts.get(kind, 0))
    return result


def _numeric(metrics: ImplementationMetrics, key: str) -> int:
    return len(metrics.functions) if key == "functions" else getattr(metrics, key)


def _mean_complexity(metrics: ImplementationMetrics) -> float:
    if not metrics.functions:
        return 0.0
    return round(sum(f.complexity for f in metrics.functions) / len(metrics.functions), 2)


def _change(before: float, after: float) -> dict:
    return {"before": before, "after": after, "delta": round(after - before, 2)}


def _source_error(path: str, exc: Exception) -> SourceError:
    if isinstance(exc, SyntaxError):
        return SourceError(path, exc.lineno, exc.msg or str(exc))
    return SourceError(path, None, f"{type(exc).__name__}: {exc}")


def _physical_lines(text: str) -> int:
    return len(text.splitlines())


def _logical_lines(text: str) -> int:
    """Count statements' logical lines (tokenize NEWLINE tokens): blank lines and comments excluded."""
    try:
        tokens = tokenize.generate_tokens(io.StringIO(text).readline)
        return sum(1 for tok in tokens if tok.type == tokenize.NEWLINE)
    except (tokenize.TokenError, SyntaxError):
        return 0


def _file_metrics(parsed: ParsedSource, functions: list[FunctionMetrics]) -> FileMetrics:
    nodes = parsed.nodes
    return FileMetrics(
        path=parsed.path,
        lines=_physical_lines(parsed.text),
        logical_lines=_logical_lines(parsed.text),
        functions=len(functions),
        classes=sum(isinstance(n, ast.ClassDef) for n in nodes),
        max_complexity=max((f.complexity for f in functions), default=0),
        max_nesting=max([_nesting(parsed.tree), *(f.max_nesting for f in functions)]),
    )


def _functions(parsed: ParsedSource) -> list[FunctionMetrics]:
    """Every def from the AST, with lizard's cyclomatic complexity matched by the def's line."""
    by_line = _lizard_complexity(parsed.path, parsed.text)
    found = []
    for node in parsed.nodes:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        source = "lizard" if node.lineno in by_line else "ast"
        complexity = by_line.get(node.lineno) or ast_complexity(node)
        found.append(
            FunctionMetrics(
                parsed.path,
                parsed.qualname(node) or node.name,
                node.lineno,
                node.end_lineno or node.lineno,
                complexity,
                _nesting(node),
                source,
            )
        )
    return sorted(found, key=lambda f: f.line)


def _lizard_complexity(path: str, text: str) -> dict[int, int]:
    """Cyclomatic complexity by start line; empty if lizard fails, so the AST count is used instead."""
    import lizard  # on first use: a grade measures beside its runs, off the start-up path (lizard takes ~80 ms)

    try:
        result = lizard.analyze_file.analyze_source_code(path, text)
    except Exception:  # lizard is a heuristic parser; a crash there must not lose the metrics.
        return {}
    return {fn.start_line: fn.cyclomatic_complexity for fn in result.function_list}


def ast_complexity(func: ast.AST) -> int:
    """McCabe complexity counted the way lizard counts Python.

    1 + if/elif/for/while/except/finally/case + and/or, lambdas included (lizard has no separate
    lambda functions), nested defs and classes excluded (lizard measures those on their own).
    """
    count = 1
    stack = list(ast.iter_child_nodes(func))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, _BRANCH_NODES):
            count += 1
        elif isinstance(node, ast.BoolOp):
            count += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            count += 1 + len(node.ifs)
        if isinstance(node, _TRY_NODES) and node.finalbody:
            count += 1
    return count


def _nesting(scope: ast.AST) -> int:
    """Deepest nesting of control-flow blocks (if/for/while/with/try/match) in a def, not in nested defs."""

    def depth(node: ast.AST, level: int) -> int:
        deepest = level
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (*FUNCTION_NODES, ast.ClassDef)):
                continue
            deeper = level + 1 if isinstance(child, _NESTING_NODES) else level
            deepest = max(deepest, depth(child, deeper))
        return deepest

    return depth(scope, 0)


def _imports(parsed: ParsedSource, local: set[str]) -> Iterable[ImportUse]:
    for node in parsed.nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield ImportUse(parsed.path, node.lineno, alias.name, _origin(alias.name, local))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield ImportUse(parsed.path, node.lineno, "." * node.level + (node.module or ""), "relative")
            else:
                yield ImportUse(parsed.path, node.lineno, node.module or "", _origin(node.module or "", local))
        elif isinstance(node, ast.Call):
            dynamic = _dynamic_import(parsed, node, local)
            if dynamic:
                yield dynamic


def _dynamic_import(parsed: ParsedSource, call: ast.Call, local: set[str]) -> ImportUse | None:
    """`__import__(x)` / `importlib.import_module(x)`: classified by a literal name, else not provable."""
    qualified = parsed.resolve(call.func)
    is_builtin = isinstance(call.func, ast.Name) and call.func.id == "__import__" and qualified is None
    if qualified not in _DYNAMIC_IMPORTERS and not is_builtin:
        return None
    first = call.args[0] if call.args else None
    if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
        return ImportUse(parsed.path, call.lineno, first.value, _origin(first.value, local), dynamic=True)
    name = ast.unparse(first) if first is not None else ""
    return ImportUse(parsed.path, call.lineno, name, "dynamic", dynamic=True)


def _origin(module: str, local: set[str]) -> str:
    top = module.split(".")[0]
    if top in local:
        return "local"
    return "stdlib" if top in sys.stdlib_module_names else "third_party"


def _constructs(parsed: ParsedSource) -> list[ConstructUse]:
    uses = []
    for call in parsed.calls():
        found = parsed.call_kind(call)
        if not found:
            continue
        kind, name = found
        size = size_argument(call, kind, name)
        uses.append(
            ConstructUse(
                kind=kind,
                name=name,
                path=parsed.path,
                line=call.lineno,
                function=parsed.qualname(parsed.enclosing_function(call)),
                bounded=is_bounded(call, kind, name),
                argument=ast.unparse(size) if size is not None else None,
            )
        )
    for init in global_inits(parsed):
        if init.checked and init.guarded:
            uses.append(
                ConstructUse("lazy_global_executor", init.name, parsed.path, init.line, init.function, None, None)
            )
    return sorted(uses, key=lambda c: (c.line, c.kind))


def _references(parsed: ParsedSource) -> set[str]:
    """Qualified names of imported things the code names (`threading.Thread`, `time.sleep`, ...)."""
    named = set(parsed.aliases.values())
    for node in parsed.nodes:
        if isinstance(node, ast.Attribute) and not isinstance(parsed.parents.get(node), ast.Attribute):
            named.add(parsed.resolve(node) or "")
    found = set()
    for qualified in named:
        while qualified and not qualified.startswith("."):
            found.add(qualified)
            qualified = qualified.rpartition(".")[0]
    return found
