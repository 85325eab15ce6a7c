"""The code each test file compiles to, made at the trusted start: a test module whose code is not its file's.

Hashing a test file on disk proves nothing about the code pytest runs from it: code under test imported before
a test module (the first test module imports the implementation, the next ones are imported later) can change
how that module is made without touching the file: pytest's assertion rewriter patched (a class attribute or a
module global), a finder and loader of its own ahead of pytest's that reads the file and hands the standard
library other text, `io.open` replaced, ... Whatever the path, the effect is one: the functions the module holds
are not compiled from the file's text. So the boot, before any task code has run, compiles every test file the
run may collect as pytest does (and plainly, for a module pytest does not rewrite), and the guard compares the
code of each collected module's functions and methods with what its file compiles to.
Standard library and pytest only: it runs beside the code under test.
"""

from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Iterable, Iterator
from types import CodeType
from typing import Any

MAX_FILES = 300
MAX_FILE_BYTES = 2 << 20
SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", "site-packages", "venv", ".venv", "env", ".tox"})


def is_test_file(relative: str) -> bool:
    """pytest's default `python_files`, conftest.py, and any module in a tests folder (the tests' helpers)."""
    parts = relative.split(os.sep)
    name = parts[-1]
    if not name.endswith(".py"):
        return False
    in_tests = any(part in ("tests", "test", "testing") for part in parts[:-1])
    return in_tests or name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


def collectable_files(root: str, paths: Iterable[str]) -> Iterator[str]:
    """The test files under the paths pytest is given (their `::` parts removed), else under root; real paths."""
    named = [os.path.join(root, arg.split("::", 1)[0]) for arg in paths if not arg.startswith("-")]
    starts = [path for path in named if os.path.exists(path)] or [root]
    seen: set[str] = set()
    for start in starts:
        if os.path.isfile(start):
            found: Iterable[str] = [start]
        else:
            found = _walk(start, root)
        for path in found:
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                yield real


def _walk(folder: str, root: str) -> Iterator[str]:
    for current, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if name not in SKIPPED_FOLDERS and not name.startswith("."))
        for name in sorted(files):
            path = os.path.join(current, name)
            if is_test_file(os.path.relpath(path, root)):
                yield path


def compiled_variants(path: str) -> list[CodeType]:
    """The file compiled as pytest's assertion rewriter compiles it, and plainly; [] if it cannot be read."""
    from _pytest.assertion.rewrite import rewrite_asserts

    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            return []
        with open(path, "rb") as handle:
            source = handle.read()
    except OSError:
        return []
    variants = []
    try:
        variants.append(compile(source, path, "exec", dont_inherit=True))
        tree = ast.parse(source, filename=path)
        rewrite_asserts(tree, source, path, None)
        variants.append(compile(tree, path, "exec", dont_inherit=True))
    except (SyntaxError, ValueError):
        pass  # pytest reports the file as a collection error
    return variants


def structure(code: CodeType) -> str:
    """A digest of what a code object does: its bytecode, names, constants (nested code by structure), shape."""
    parts: list[Any] = [
        code.co_code,
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
        code.co_name,
        code.co_firstlineno,
    ]
    for constant in code.co_consts:
        parts.append(
            structure(constant) if isinstance(constant, CodeType) else (type(constant).__name__, repr(constant))
        )
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _all_codes(code: CodeType) -> Iterator[CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _all_codes(constant)


class ExpectedCode:
    """Each test file's code objects as compiled before any task code ran, by real path."""

    def __init__(self, root: str, paths: Iterable[str] = ()) -> None:
        self._compiled: dict[str, list[CodeType]] = {}
        self._digests: dict[str, set[str]] = {}
        for number, path in enumerate(collectable_files(root, paths)):
            if number >= MAX_FILES:
                break
            self._compiled[path] = compiled_variants(path)

    def knows(self, path: str) -> bool:
        return bool(self._compiled.get(os.path.realpath(path)))

    def matches(self, path: str, code: CodeType) -> bool:
        """Whether `code` is one of the code objects the file at `path` compiles to (True for a file not known)."""
        real = os.path.realpath(path)
        if not self._compiled.get(real):
            return True
        if real not in self._digests:
            self._digests[real] = {
                structure(inner) for variant in self._compiled[real] for inner in _all_codes(variant)
            }
        return structure(code) in self._digests[real]
