"""Zero-config tasks: infer how the tests select an implementation from the task's own files.

Reads the task's docker-compose file, README and shell commands, and its conftest and test sources,
and turns what they show into a Toggle, with the evidence (file:line) it was inferred from:
a pytest option the conftest adds, a named variable with any values (sometimes with PYTHONPATH),
different test files or `-k` per implementation, tests importing `repository_after.x` as a package,
or PYTHONPATH (the default when nothing else is shown).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from concgrade.files import IGNORED_DIRS
from concgrade.task.compose import find_compose_file, read_compose
from concgrade.task.model import Implementation
from concgrade.task.selection import VALUE_OPTIONS, keyword_words, split_arguments
from concgrade.task.toggle import Toggle

ROLES = ("before", "after")
# Words that say which implementation a value, a service or a command is about.
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "before": ("before", "old", "original", "legacy", "baseline", "unsafe"),
    "after": ("after", "new", "refactored", "refactor", "solution", "fixed"),
}
# Names a variable or option that selects the implementation tends to have.
SELECTOR_NAME = re.compile(r"impl|repo|target|variant|version|mode|solution|which|flavou?r", re.IGNORECASE)
# Variables that are settings, never the toggle.
NOT_A_TOGGLE = {"PYTHONPATH", "PATH", "HOME", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED"}
COMMAND_FILES = ("README.md", "README.rst", "README.txt", "README", "Makefile", "run_tests.sh", "test.sh", "Dockerfile")
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
SEPARATORS = {"&&", "||", ";", "|", "&"}


@dataclass(frozen=True)
class Assignment:
    where: str
    name: str
    value: str
    role: str | None


@dataclass(frozen=True)
class Invocation:
    """A pytest command the task's files show, with the implementation it is for (if that is clear)."""

    where: str
    args: tuple[str, ...]
    role: str | None


@dataclass
class ConventionSources:
    """What inference reads, already split into clues (built by `read_sources`, or by hand in tests)."""

    before_folder: str = "repository_before"
    after_folder: str = "repository_after"
    assignments: list[Assignment] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)
    python: dict[str, str] = field(default_factory=dict)  # task-relative path -> source of tests and conftests
    existing: set[str] = field(default_factory=set)  # task-relative paths of files and folders under tests/


@dataclass(frozen=True)
class InferredConventions:
    toggle: Toggle
    source: dict[str, Any]  # {"origin": "inferred" | "default", "kind": ..., "evidence": [...]}
    modules: tuple[str, ...]


def infer_conventions(
    root: Path, implementations: tuple[Implementation, ...], guessed_modules: list[str]
) -> InferredConventions:
    """Read the task's files and infer its toggle and the module names its tests import."""
    sources = read_sources(root, implementations)
    toggle, evidence = infer_toggle(sources)
    origin = "inferred" if evidence else "default"
    if not evidence:
        evidence = ["nothing in docker-compose, README, conftest or tests selects an implementation: PYTHONPATH"]
    source = {"origin": origin, "kind": toggle.kind, "evidence": evidence}
    return InferredConventions(toggle, source, implementation_modules(toggle, sources, guessed_modules))


# --- reading the task's files ---------------------------------------------------------------------


def read_sources(root: Path, implementations: tuple[Implementation, ...]) -> ConventionSources:
    folders = {impl.name: impl.folder.relative_to(root).as_posix() for impl in implementations}
    sources = ConventionSources(folders.get("before", "repository_before"), folders.get("after", "repository_after"))
    compose = find_compose_file(root)
    if compose is not None:
        add_compose_clues(sources, compose.name, _read(compose))
    for name in COMMAND_FILES:
        if (root / name).is_file():
            add_text_clues(sources, name, _read(root / name))
    for path in sorted([*root.glob("*.sh"), *root.glob("scripts/*.sh")]):
        if path.name not in COMMAND_FILES:
            add_text_clues(sources, path.relative_to(root).as_posix(), _read(path))
    tests = root / "tests"
    for path in sorted([root / "conftest.py", *tests.rglob("*")]):
        relative = path.relative_to(root)
        if any(part in IGNORED_DIRS for part in relative.parts) or not path.exists():
            continue
        sources.existing.add(relative.as_posix())
        if path.suffix == ".py" and path.is_file():
            sources.python[relative.as_posix()] = _read(path)
    return sources


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def add_compose_clues(sources: ConventionSources, filename: str, text: str) -> None:
    """Each service's environment and command, the service's name telling which implementation it runs."""
    for service in read_compose(text):
        context = role_of(service.name, ROLE_WORDS)
        where = f"{filename}:{{line}} (service {service.name})"
        for line, name, value in service.environment:
            role = role_of(value, ROLE_WORDS) or context
            sources.assignments.append(Assignment(where.format(line=line), name, value, role))
        for line, command in service.commands:
            add_command_clues(sources, where.format(line=line), command, context)


def add_text_clues(sources: ConventionSources, filename: str, text: str) -> None:
    """Commands in a README, Makefile or script: lines that run pytest or export a variable."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if "pytest" not in line and not re.match(r"\s*(export\s+)?[A-Z_][A-Z0-9_]*=\S", line):
            continue
        nearby = " ".join(lines[max(0, index - 2) : index])  # a heading or comment just above the command
        context = role_of(nearby, {role: (role,) for role in ROLES})
        snippets = re.findall(r"`([^`]*pytest[^`]*)`", line) or [line]
        for snippet in snippets:
            own = role_of(re.sub(r"\S*pytest\S*|\S+=\S+|--?[\w-]+", " ", snippet), {r: (r,) for r in ROLES})
            add_command_clues(sources, f"{filename}:{index + 1}", snippet, own or context)


def add_command_clues(sources: ConventionSources, where: str, command: str, context: str | None) -> None:
    """Variable assignments and pytest invocations in one shell command (recursing into `sh -c "..."`)."""
    command = re.sub(r"^\s*(\$|>|RUN|CMD)\s+", "", command.strip())
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        words = command.split()
    assigned: list[Assignment] = []
    index = 0
    while index < len(words):
        word = words[index]
        if " " in word and ("pytest" in word or "=" in word):  # sh -c "...": a command inside a word
            add_command_clues(sources, where, word, context)
        match = ASSIGNMENT.match(word)
        if match and not word.startswith("-"):
            name, value = match.groups()
            assigned.append(Assignment(where, name, value, role_of(value, ROLE_WORDS) or context))
        if word.endswith("pytest") or word == "py.test":
            args = []
            index += 1
            while index < len(words) and words[index] not in SEPARATORS:
                args.append(words[index])
                index += 1
            role = role_of(" ".join(args), ROLE_WORDS) or _role_of_assignments(assigned) or context
            sources.invocations.append(Invocation(where, tuple(args), role))
            continue
        index += 1
    sources.assignments += assigned


def _role_of(value: str) -> str | None:
    return role_of(value, ROLE_WORDS)


def _role_of_assignments(assignments: list[Assignment]) -> str | None:
    roles = {a.role for a in assignments if a.role and a.name not in NOT_A_TOGGLE - {"PYTHONPATH"}}
    return roles.pop() if len(roles) == 1 else None


def role_of(text: str, words: dict[str, tuple[str, ...]]) -> str | None:
    """before or after, if the text names exactly one of them (as a word: test_before, TestAfter, /before/)."""
    found = set()
    for role, names in words.items():
        for name in names:
            if re.search(rf"(?<![A-Za-z]){name}(?![a-z])", text, re.IGNORECASE) or re.search(
                rf"(?<=[a-z]){name.capitalize()}(?![a-z])", text
            ):
                found.add(role)
    return found.pop() if len(found) == 1 else None


# --- inference (pure) ------------------------------------------------------------------------------


def infer_toggle(sources: ConventionSources) -> tuple[Toggle, list[str]]:
    """The toggle the clues show, strongest first, with its evidence; PYTHONPATH with no evidence otherwise."""
    for rule in (_pytest_option, _environment_variable, _selection_by_commands, _selection_by_imports, _package):
        found = rule(sources)
        if found is not None:
            return found
    pythonpath = [a for a in sources.assignments if a.name == "PYTHONPATH" and a.role]
    if pythonpath:
        return Toggle(kind="pythonpath"), [_evidence(a) for a in pythonpath[:4]]
    return Toggle(kind="pythonpath"), []


def _pytest_option(sources: ConventionSources) -> tuple[Toggle, list[str]] | None:
    """A conftest `parser.addoption("--repo", ...)` whose values select before and after."""
    for path, text in sources.python.items():
        for match in re.finditer(r"addoption\(\s*(['\"])(--[\w-]+)\1", text):
            option = match.group(2)
            call = text[match.end() : match.end() + 400].split("addoption(")[0]
            where = f"{path}:{text.count(chr(10), 0, match.start()) + 1}: parser.addoption({option!r})"
            values, used = _option_values(option, sources.invocations)
            if not values:
                values = _values_from_literals(_string_literals(call))
            if not values and SELECTOR_NAME.search(option) and _mentions_roles(call):
                values = {role: role for role in ROLES}
            if values:
                toggle = Toggle(kind="option", option=option, values=values)
                return toggle, [where, *used]
    return None


def _option_values(option: str, invocations: list[Invocation]) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    used = []
    for invocation in invocations:
        args = list(invocation.args)
        for index, arg in enumerate(args):
            if arg == option and index + 1 < len(args):
                value = args[index + 1]
            elif arg.startswith(option + "="):
                value = arg.split("=", 1)[1]
            else:
                continue
            role = _role_of(value) or invocation.role
            if role and role not in values:
                values[role] = value
                used.append(f"{invocation.where}: pytest {' '.join(args)}")
    return (values, used) if set(values) == set(ROLES) and values["before"] != values["after"] else ({}, [])


def _environment_variable(sources: ConventionSources) -> tuple[Toggle, list[str]] | None:
    """A variable given different values for before and after (compose, README), or read by the tests."""
    read = _variables_read(sources.python)
    candidates: dict[str, dict[str, Assignment]] = {}
    for assignment in sources.assignments:
        if assignment.role and assignment.name not in NOT_A_TOGGLE:
            candidates.setdefault(assignment.name, {}).setdefault(assignment.role, assignment)
    distinct = {
        name: by_role
        for name, by_role in candidates.items()
        if set(by_role) == set(ROLES) and by_role["before"].value != by_role["after"].value
    }
    if distinct:
        name = max(distinct, key=lambda n: (n in read, bool(SELECTOR_NAME.search(n))))
        by_role = distinct[name]
        evidence = [_evidence(by_role[role]) for role in ROLES]
        if name in read:
            evidence.append(read[name])
        return _env_toggle(sources, name, {role: by_role[role].value for role in ROLES}, evidence)
    for name, where in read.items():  # only the tests show the variable: its values from their literals
        if name in NOT_A_TOGGLE or not SELECTOR_NAME.search(name):
            continue
        values = _values_from_literals(_string_literals(sources.python[where.split(":")[0]]))
        if values:
            return _env_toggle(sources, name, values, [where])
    return None


def _env_toggle(
    sources: ConventionSources, name: str, values: dict[str, str], evidence: list[str]
) -> tuple[Toggle, list[str]]:
    folders = {"before": sources.before_folder, "after": sources.after_folder}
    path_value = all(values[role].rstrip("/").endswith(folders[role]) for role in ROLES)
    pythonpath = [a for a in sources.assignments if a.name == "PYTHONPATH" and a.role]
    evidence += [_evidence(a) for a in pythonpath[:2]]
    toggle = Toggle(kind="env", variable=name, values={} if path_value else values, pythonpath=bool(pythonpath))
    if path_value:
        toggle = Toggle(kind="env", variable=name, path_value=True, pythonpath=bool(pythonpath))
    return toggle, evidence


def _variables_read(python: dict[str, str]) -> dict[str, str]:
    """Variables the tests read (`os.environ[...]`, `.get(...)`, `os.getenv(...)`) → where first."""
    pattern = re.compile(r"environ\[\s*['\"](\w+)['\"]|environ\.get\(\s*['\"](\w+)['\"]|getenv\(\s*['\"](\w+)['\"]")
    found: dict[str, str] = {}
    for path, text in python.items():
        for match in pattern.finditer(text):
            name = next(group for group in match.groups() if group)
            line = text.count("\n", 0, match.start()) + 1
            found.setdefault(name, f"{path}:{line}: the tests read {name}")
    return found


def _string_literals(text: str) -> list[str]:
    return re.findall(r"['\"]([\w./-]{2,80})['\"]", text)


def _values_from_literals(literals: Iterable[str]) -> dict[str, str]:
    """Values for before and after among string literals: the ones that name each implementation."""
    values: dict[str, str] = {}
    for literal in literals:
        role = role_of(literal, {role: (role,) for role in ROLES})
        if role and role not in values:
            values[role] = literal
    return values if set(values) == set(ROLES) else {}


def _mentions_roles(text: str) -> bool:
    return all(re.search(rf"\b{role}\b", text) for role in ROLES)


def _selection_by_commands(sources: ConventionSources) -> tuple[Toggle, list[str]] | None:
    """Different pytest files or `-k` for before and after in the task's commands."""
    chosen: dict[str, tuple[list[str], Invocation]] = {}
    for invocation in sources.invocations:
        if invocation.role and invocation.role not in chosen:
            selecting = _selecting_args(list(invocation.args), sources.existing)
            chosen[invocation.role] = (selecting, invocation)
    if set(chosen) != set(ROLES) or chosen["before"][0] == chosen["after"][0]:
        return None
    if not all(chosen[role][0] for role in ROLES):
        return None
    selection = {role: chosen[role][0] for role in ROLES}
    pairs_files = len(split_arguments(selection["before"])[0]) == len(split_arguments(selection["after"])[0])
    if not pairs_files and not any(keyword_words(args) for args in selection.values()):
        return None
    evidence = [f"{chosen[role][1].where}: pytest {' '.join(chosen[role][1].args)}" for role in ROLES]
    return Toggle(kind="selection", selection=selection), evidence


def _selecting_args(args: list[str], existing: set[str]) -> list[str]:
    """The arguments that choose tests: existing files or folders (as task-relative paths), `-k` and `-m`."""
    selecting = []
    pending = ""
    for arg in args:
        if pending:
            if pending in ("-k", "-m"):
                selecting += [pending, arg]
            pending = ""
        elif arg in VALUE_OPTIONS:
            pending = arg
        elif arg.startswith(("-k", "-m")) and len(arg) > 2 and not arg.startswith("--"):
            selecting += [arg[:2], arg[2:].lstrip("=")]
        elif not arg.startswith("-"):
            path = _task_relative(arg)
            if path.split("::")[0].rstrip("/") in existing and path.rstrip("/") != "tests":
                selecting.append(path.rstrip("/"))
    return selecting


def _task_relative(path: str) -> str:
    """`/app/tests/x.py` or `./tests/x.py` as `tests/x.py` (compose files run the task from a container path)."""
    path = path.replace("\\", "/")
    if "/tests/" in path and not path.startswith("tests/"):
        return "tests/" + path.split("/tests/", 1)[1]
    return path[2:] if path.startswith("./") else path


def _imports_of(text: str, folder: str) -> bool:
    return bool(
        re.search(rf"^\s*(from|import)\s+{re.escape(folder)}\b", text, re.MULTILINE)
        or re.search(rf"import_module\(\s*['\"]{re.escape(folder)}\b", text)
    )


def _selection_by_imports(sources: ConventionSources) -> tuple[Toggle, list[str]] | None:
    """Some test files import the before package and others the after package: each runs its own."""
    tests = {path: text for path, text in sources.python.items() if _is_test_file(path)}
    only_before = sorted(p for p, t in tests.items() if _imports_of(t, sources.before_folder))
    only_after = sorted(p for p, t in tests.items() if _imports_of(t, sources.after_folder))
    if not only_before or not only_after or set(only_before) & set(only_after):
        return None
    shared = sorted(p for p in tests if p not in only_before and p not in only_after)
    selection = {"before": [*only_before, *shared], "after": [*only_after, *shared]}
    evidence = [f"{p}: imports {sources.before_folder}" for p in only_before[:2]]
    evidence += [f"{p}: imports {sources.after_folder}" for p in only_after[:2]]
    return Toggle(kind="selection", selection=selection), evidence


def _package(sources: ConventionSources) -> tuple[Toggle, list[str]] | None:
    """The tests import `repository_after.x` from the task root, and nothing imports before."""
    importing = [p for p, t in sources.python.items() if _imports_of(t, sources.after_folder)]
    if not importing or any(_imports_of(t, sources.before_folder) for t in sources.python.values()):
        return None
    return Toggle(kind="package"), [f"{p}: imports {sources.after_folder} as a package" for p in importing[:3]]


def _is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.startswith("test_") or name.endswith("_test.py")


def _evidence(assignment: Assignment) -> str:
    return f"{assignment.where}: {assignment.name}={assignment.value}"


def implementation_modules(toggle: Toggle, sources: ConventionSources, guessed: list[str]) -> tuple[str, ...]:
    """The module names the toggle selects, for the import proof: `m` on PYTHONPATH, `repository_after.m` for a
    package. Imports that name an implementation folder themselves (`repository_before.m` beside
    `repository_after.m` in an equivalence test) do not switch: the files each run reads show them."""
    if toggle.kind == "package":
        return tuple(f"{sources.after_folder}.{module}" for module in guessed)
    return tuple(guessed)
