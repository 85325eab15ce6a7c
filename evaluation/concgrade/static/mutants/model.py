"""What a mutation operator is, what it proposes, and the mutants made from its proposals."""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from concgrade.static.pysource import ParsedSource


@dataclass(frozen=True)
class Edit:
    """`target` (a node of the original tree) replaced: a statement by zero or more, an expression by one."""

    target: ast.AST
    replacement: tuple[ast.AST, ...]


@dataclass(frozen=True)
class Insert:
    """Statements inserted into the list `owner.<field>` before position `index` (its length: at the end)."""

    owner: ast.AST
    field: str
    index: int
    statements: tuple[ast.stmt, ...]


Change = Edit | Insert


@dataclass(frozen=True)
class Mutation:
    """One wrong refactor an operator found room for: where, what, and the tree edits that make it."""

    line: int
    description: str
    changes: tuple[Change, ...]


FindMutations = Callable[[ParsedSource], Iterator[Mutation]]


@dataclass(frozen=True)
class Operator:
    """A kind of wrong concurrency refactor, with a stable id; `find` proposes its mutations in one file."""

    id: str  # e.g. "CM101-sequentialize-executor": the code before the first dash never changes meaning
    description: str  # what the operator does to the code, in one line
    requirement: str  # the requirement a mutant of this kind breaks, in one line (for the report)
    find: FindMutations = field(compare=False, repr=False)

    @property
    def code(self) -> str:
        return self.id.split("-", 1)[0]


@dataclass(frozen=True)
class Mutant:
    """One changed implementation file: the after folder with `file` replaced by `source` is the mutant."""

    id: str  # content address: operator, file, line and the mutated source's hash
    operator: str
    file: str  # relative to the implementation folder, with forward slashes
    line: int  # in the original file
    description: str
    requirement: str
    original: str = field(repr=False)
    source: str = field(repr=False)

    def files(self) -> dict[str, str]:
        """What to write over a copy of the after folder to make this mutant: {relative path: new text}."""
        return {self.file: self.source}

    def diff(self) -> str:
        """A unified diff from the original file to the mutant."""
        lines = difflib.unified_diff(
            self.original.splitlines(keepends=True),
            self.source.splitlines(keepends=True),
            fromfile=f"a/{self.file}",
            tofile=f"b/{self.file}",
        )
        return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def mutant_id(operator: str, file: str, line: int, source: str) -> str:
    """A stable id from what makes the mutant: the same operator, place and text give the same id anywhere."""
    source_hash = hashlib.sha256(source.encode("utf-8")).hexdigest()
    key = json.dumps([operator, file, line, source_hash], separators=(",", ":"))
    return f"{operator.split('-', 1)[0]}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:12]}"


def operator(id: str, description: str, requirement: str) -> Callable[[FindMutations], Operator]:
    """Make a finder function an operator: `@operator("CM101-...", "what it does", "what it breaks")`."""

    def make(find: FindMutations) -> Operator:
        return Operator(id, description, requirement, find)

    return make
