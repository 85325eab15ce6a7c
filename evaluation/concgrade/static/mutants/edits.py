"""Applying a mutation's tree edits: to a copy of the tree, and as a splice of the original text.

The mutated text keeps every line the mutation did not touch (comments included), so its diff against the
original shows only the change; each touched region is rendered with `ast.unparse`, except the parts of it
taken from the original, which keep their own text (quotes, layout). The splice is checked
against the mutated tree, and where it would not parse back to that tree the whole module is unparsed instead.
"""

from __future__ import annotations

import ast
import copy
import re
import textwrap
from collections.abc import Iterable, Sequence

from concgrade.static.mutants.model import Change, Edit, Insert
from concgrade.static.pysource import ParsedSource

_PLACEHOLDER = re.compile(r"_concgrade_original_\d+_")
Step = tuple[str, int]  # (field, index in the field's list, or -1 for a field holding one node)
Path = tuple[Step, ...]

# Expressions that never need parentheses wherever an expression may stand.
_ATOMS = (
    ast.Name,
    ast.Constant,
    ast.Attribute,
    ast.Call,
    ast.Subscript,
    ast.List,
    ast.Tuple,
    ast.Dict,
    ast.Set,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def mutate_tree(parsed: ParsedSource, changes: Sequence[Change]) -> ast.Module:
    """A copy of the parsed tree with the changes applied (the parsed tree itself is shared: never touched)."""
    tree = copy.deepcopy(parsed.tree)
    # Later places first, and an edit before an insert at the same place, so that no change moves the
    # place of one still to apply.
    for _, change in sorted(((_sort_key(parsed, c), c) for c in changes), key=lambda item: item[0], reverse=True):
        if isinstance(change, Edit):
            *owner_path, (name, index) = path_of(parsed, change.target)
            owner = follow(tree, tuple(owner_path))
            replacement = [copy.deepcopy(node) for node in change.replacement]
            if index < 0:
                setattr(owner, name, replacement[0])
            else:
                getattr(owner, name)[index : index + 1] = replacement
        else:
            owner = follow(tree, path_of(parsed, change.owner))
            getattr(owner, change.field)[change.index : change.index] = [copy.deepcopy(s) for s in change.statements]
    return ast.fix_missing_locations(tree)


def keep_bodies_nonempty(parsed: ParsedSource, changes: Sequence[Change]) -> tuple[Change, ...]:
    """The changes, with a `pass` left where removals would empty a block (a body must hold a statement)."""
    removed: dict[tuple[int, str], list[int]] = {}
    grown: set[tuple[int, str]] = set()
    owners: dict[int, ast.AST] = {}
    for position, change in enumerate(changes):
        if isinstance(change, Insert):
            grown.add((id(change.owner), change.field))
            continue
        parent = parsed.parents.get(change.target)
        if parent is None or not isinstance(change.target, ast.stmt):
            continue
        name, _ = _step(parent, change.target)
        owners[id(parent)] = parent
        if change.replacement:
            grown.add((id(parent), name))
        else:
            removed.setdefault((id(parent), name), []).append(position)
    fixed = list(changes)
    for (owner_id, name), positions in removed.items():
        owner = owners[owner_id]
        if isinstance(owner, ast.Module) or not _must_hold_a_statement(owner, name) or (owner_id, name) in grown:
            continue
        if len(positions) == len(getattr(owner, name)):
            last = fixed[positions[-1]]
            assert isinstance(last, Edit)
            fixed[positions[-1]] = Edit(last.target, (ast.Pass(),))
    return tuple(fixed)


def _must_hold_a_statement(owner: ast.AST, name: str) -> bool:
    """A block's body, and the `finally` of a `try` without handlers, cannot be empty."""
    if name == "body":
        return True
    return name == "finalbody" and isinstance(owner, ast.Try) and not owner.handlers


def render(parsed: ParsedSource, changes: Sequence[Change], mutated: ast.Module) -> str:
    """The mutated module's text: the original with each changed region spliced, else the unparsed tree."""
    # First with the original text of reused parts and parentheses only where needed; then plainer.
    for cautious in (False, True):
        spliced = _splice(parsed, changes, cautious)
        if spliced is not None and _same_tree(spliced, mutated):
            return spliced
    return ast.unparse(mutated) + "\n"


def path_of(parsed: ParsedSource, node: ast.AST) -> Path:
    """The steps from the module to `node` in the parsed tree (the same steps lead to its copy in a deep copy)."""
    steps: list[Step] = []
    current = node
    for parent in parsed.ancestors(node):
        steps.append(_step(parent, current))
        current = parent
    return tuple(reversed(steps))


def follow(tree: ast.AST, path: Path) -> ast.AST:
    node = tree
    for name, index in path:
        value = getattr(node, name)
        node = value if index < 0 else value[index]
    return node


def _step(parent: ast.AST, child: ast.AST) -> Step:
    for name, value in ast.iter_fields(parent):
        if value is child:
            return name, -1
        if isinstance(value, list):
            for index, item in enumerate(value):
                if item is child:
                    return name, index
    raise ValueError(f"{type(child).__name__} is not a child of {type(parent).__name__}")


def _sort_key(parsed: ParsedSource, change: Change) -> tuple[Path, int]:
    if isinstance(change, Edit):
        return path_of(parsed, change.target), 1
    return (*path_of(parsed, change.owner), (change.field, change.index)), 0


def _same_tree(text: str, tree: ast.Module) -> bool:
    try:
        return ast.dump(ast.parse(text)) == ast.dump(tree)
    except (SyntaxError, ValueError):
        return False


class _Source:
    """The original text by lines, with ast positions (1-based lines, UTF-8 byte columns) made offsets."""

    def __init__(self, parsed: ParsedSource, cautious: bool = False) -> None:
        self.parsed = parsed
        self.cautious = cautious
        self.text = parsed.text if parsed.text.endswith("\n") or not parsed.text else parsed.text + "\n"
        self.lines = self.text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, line: int, byte_column: int) -> int:
        content = self.lines[line - 1].encode("utf-8")[:byte_column].decode("utf-8", "replace")
        return self.starts[line - 1] + len(content)

    def line_start(self, line: int) -> int:
        return self.starts[line - 1]

    def line_end(self, line: int) -> int:
        return self.starts[line]

    def before(self, line: int, byte_column: int) -> str:
        return self.text[self.line_start(line) : self.offset(line, byte_column)]

    def after(self, line: int, byte_column: int) -> str:
        return self.text[self.offset(line, byte_column) : self.line_end(line)]

    def whole_lines(self, statement: ast.stmt) -> tuple[int, int, str] | None:
        """(first line, last line, indentation) of a statement that has its lines to itself, else None."""
        if statement.end_lineno is None or statement.end_col_offset is None:
            return None
        first = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", ()))])
        indent = self.before(first, _first_column(statement, first))
        if indent.strip() or not _ends_its_line(self.after(statement.end_lineno, statement.end_col_offset)):
            return None
        return first, statement.end_lineno, indent

    def unparse(self, node: ast.AST) -> str:
        """`ast.unparse`, but expressions of the original inside `node` keep their original text."""
        if self.cautious:
            return ast.unparse(ast.fix_missing_locations(copy.deepcopy(node)))
        originals: dict[str, str] = {}
        # unparse reads `lineno` of statements (for type comments): new ones have none until fixed.
        text = ast.unparse(ast.fix_missing_locations(self._placeholders(node, originals)))
        return _PLACEHOLDER.sub(lambda match: originals[match.group(0)], text) if originals else text

    def _placeholders(self, node: ast.AST, originals: dict[str, str]) -> ast.AST:
        """A copy of `node` with each original expression in it (not `node` itself) stood in for by a name."""
        clone = copy.copy(node)
        for name, value in ast.iter_fields(node):
            if isinstance(value, list):
                swapped = [self._stand_in(v, node, name, originals) if isinstance(v, ast.AST) else v for v in value]
                setattr(clone, name, swapped)
            elif isinstance(value, ast.AST):
                setattr(clone, name, self._stand_in(value, node, name, originals))
        return clone

    def _stand_in(self, node: ast.AST, parent: ast.AST, field: str, originals: dict[str, str]) -> ast.AST:
        if isinstance(node, ast.expr) and node in self.parsed.parents:
            segment = ast.get_source_segment(self.text, node)
            if segment is not None:
                name = f"_concgrade_original_{len(originals)}_"
                if isinstance(node, (ast.Tuple, ast.GeneratorExp)):
                    safe = segment.startswith("(")  # a bare tuple's text has no parentheses of its own
                else:
                    safe = isinstance(node, _ATOMS) or _free_position(parent, field)
                originals[name] = segment if safe else f"({segment})"
                return ast.Name(name, ast.Load())
        return self._placeholders(node, originals)

    def moved(self, statement: ast.AST, indent: str) -> str | None:
        """An original statement's own lines re-indented, if that text still means the statement."""
        if not isinstance(statement, ast.stmt) or statement not in self.parsed.parents:
            return None
        span = self.whole_lines(statement)
        if span is None:
            return None
        first, last, old_indent = span
        lines = self.lines[first - 1 : last]
        if not all(line.startswith(old_indent) or not line.strip() for line in lines):
            return None
        text = "".join(indent + line[len(old_indent) :] if line.strip() else line for line in lines)
        try:
            reparsed = ast.parse(textwrap.dedent(text)).body
        except SyntaxError:
            return None
        return text if len(reparsed) == 1 and ast.dump(reparsed[0]) == ast.dump(statement) else None


def _splice(parsed: ParsedSource, changes: Sequence[Change], cautious: bool) -> str | None:
    """The original text with each change's region rewritten; `cautious` parenthesizes every new expression."""
    source = _Source(parsed, cautious)
    regions: list[tuple[int, int, str]] = []
    for change in changes:
        if isinstance(change, Edit) and isinstance(change.target, ast.expr):
            region = _expression_region(source, change)
        elif isinstance(change, Edit) and isinstance(change.target, ast.keyword):
            region = _argument_region(source, change)
        else:
            region = _statement_region(source, change)
        if region is None:
            return None
        regions.append(region)
    text = source.text
    for start, end, new in sorted(regions, key=lambda r: (r[0], r[1]), reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _expression_region(source: _Source, change: Edit) -> tuple[int, int, str] | None:
    target = change.target
    assert isinstance(target, ast.expr)
    if target.end_lineno is None or target.end_col_offset is None:
        return None
    if not change.replacement:
        return _argument_region(source, change)
    (new,) = change.replacement
    appended = _appended_keywords(target, new, source)
    if appended is not None:
        end = source.offset(target.end_lineno, target.end_col_offset) - 1  # the closing parenthesis
        return end, end, appended
    text = source.unparse(new)
    if not isinstance(new, _ATOMS) and (source.cautious or not _stands_alone(source.parsed, target)):
        text = f"({text})"
    return (
        source.offset(target.lineno, target.col_offset),
        source.offset(target.end_lineno, target.end_col_offset),
        text,
    )


def _appended_keywords(old: ast.expr, new: ast.AST, source: _Source) -> str | None:
    """The text to put before a call's closing parenthesis when `new` is `old` with keywords added at the end."""
    if not (isinstance(old, ast.Call) and isinstance(new, ast.Call)) or len(new.keywords) <= len(old.keywords):
        return None
    same = [ast.dump(old.func), *map(ast.dump, old.args), *map(ast.dump, old.keywords)]
    kept = [ast.dump(new.func), *map(ast.dump, new.args), *map(ast.dump, new.keywords[: len(old.keywords)])]
    if same != kept or len(new.args) != len(old.args):
        return None
    added = ", ".join(source.unparse(k) for k in new.keywords[len(old.keywords) :])
    return f", {added}" if old.args or old.keywords else added


def _stands_alone(parsed: ParsedSource, target: ast.expr) -> bool:
    parent = parsed.parents.get(target)
    return parent is not None and _free_position(parent, _step(parent, target)[0])


def _free_position(parent: ast.AST, field: str) -> bool:
    """Whether any expression may stand in this field of `parent` without parentheses: a call's argument, a
    keyword's value, an element of a display, the value of an assignment, a return or an expression statement."""
    if isinstance(parent, ast.keyword) or (isinstance(parent, ast.Call) and field == "args"):
        return True
    if isinstance(parent, (ast.List, ast.Set)) and field == "elts":
        return True
    return isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return, ast.Expr)) and field == "value"


def _argument_region(source: _Source, change: Edit) -> tuple[int, int, str] | None:
    """A removed argument or keyword of a call, with the comma that separated it from its neighbour."""
    target = change.target
    call = source.parsed.parents.get(target)
    if not isinstance(call, ast.Call) or not isinstance(target, (ast.expr, ast.keyword)) or change.replacement:
        return None
    arguments: list[ast.expr | ast.keyword] = sorted(
        [*call.args, *call.keywords], key=lambda a: (a.lineno, a.col_offset)
    )
    ends = [(a.end_lineno, a.end_col_offset) for a in arguments]
    index = next(i for i, a in enumerate(arguments) if a is target)
    end_line, end_column = ends[index]
    if end_line is None or end_column is None:
        return None
    end = source.offset(end_line, end_column)
    if index > 0:
        previous_line, previous_column = ends[index - 1]
        if previous_line is None or previous_column is None:
            return None
        return source.offset(previous_line, previous_column), end, ""
    start = source.offset(target.lineno, target.col_offset)
    if len(arguments) > 1:
        return start, source.offset(arguments[1].lineno, arguments[1].col_offset), ""
    return start, end, ""


def _statement_region(source: _Source, change: Change) -> tuple[int, int, str] | None:
    if isinstance(change, Edit):
        if not isinstance(change.target, ast.stmt):
            return None
        span = source.whole_lines(change.target)
        if span is None:
            return None  # shares a line with other code: only the whole-module rendering is safe
        first, last, indent = span
        return source.line_start(first), source.line_end(last), _statements_text(change.replacement, indent, source)
    siblings = getattr(change.owner, change.field)
    if 0 < change.index:
        # Right after the statement before: comments above the next statement stay with it.
        span = source.whole_lines(siblings[change.index - 1])
        if span is None:
            return None
        _, last, indent = span
        at = source.line_end(last)
        return at, at, _statements_text(change.statements, indent, source, spaced=not indent, leading=True)
    if change.index < len(siblings):
        span = source.whole_lines(siblings[change.index])
        if span is None:
            return None
        first, _, indent = span
        at = source.line_start(first)
        return at, at, _statements_text(change.statements, indent, source, spaced=not indent)
    if not siblings:
        end = len(source.text)
        return end, end, _statements_text(change.statements, "", source, spaced=True)
    span = source.whole_lines(siblings[-1])
    if span is None:
        return None
    _, last, indent = span
    at = source.line_end(last)
    return at, at, _statements_text(change.statements, indent, source, spaced=not indent, leading=True)


def _first_column(node: ast.stmt, line: int) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", [])
    for decorator in decorators:
        if decorator.lineno == line:
            return max(decorator.col_offset - 1, 0)  # the "@" stands one column before the expression
    return node.col_offset


def _ends_its_line(rest: str) -> bool:
    stripped = rest.strip()
    return not stripped or stripped.startswith("#")


def _statements_text(
    statements: Iterable[ast.AST], indent: str, source: _Source, spaced: bool = False, leading: bool = False
) -> str:
    """Statements at an indentation; at module level, definitions get the blank lines PEP 8 asks for."""
    statements = list(statements)
    blocks = [_statement_text(statement, indent, source) for statement in statements]
    if not spaced or not any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for s in statements):
        return "".join(blocks)
    return ("\n\n" if leading else "") + "\n\n".join(blocks) + ("" if leading else "\n\n")


def _statement_text(statement: ast.AST, indent: str, source: _Source) -> str:
    """A statement of the original moved to another indentation keeps its text and comments; others are unparsed."""
    moved = source.moved(statement, indent)
    if moved is not None:
        return moved
    lines = source.unparse(statement).splitlines(keepends=True)
    return "".join(line if line == "\n" else indent + line for line in lines) + "\n"
