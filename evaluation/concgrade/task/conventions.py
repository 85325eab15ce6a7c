"""Zero-config tasks: infer how the tests select an implementation, and what they run, from the task's own files.

Reads the task's docker-compose file, README, Makefile, Dockerfile and shell scripts (as commands:
commands.py), and its conftest and test sources, and turns what they show into a Toggle with the evidence
(file:line) it was inferred from: a pytest option the conftest adds, a named variable with any values
(sometimes with PYTHONPATH), the folder a command runs in, different test files or `-k` per implementation,
tests importing `repository_after.x` as a package, or PYTHONPATH (the default when nothing else is shown).
It also reads the variables both implementations' commands set alike (a secret, a settings module), and
the test files (or unittest start folder, or test script) the documented commands run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from concgrade.files import IGNORED_DIRS, TOOL_DIRS, walk_files
from concgrade.task.commands import (
    NOT_A_TOGGLE,
    ROLE_WORDS,
    ROLES,
    Assignment,
    CommandClues,
    Invocation,
    add_command_clues,
    add_text_clues,
    plain_role,
    role_of,
    task_relative,
    with_defaults,
)
from concgrade.task.compose import find_compose_file, read_compose
from concgrade.task.model import Implementation
from concgrade.task.pytest_timeout import timeout_option
from concgrade.task.selection import VALUE_OPTIONS, keyword_words, selecting_arguments, split_arguments
from concgrade.task.toggle import Toggle

# Names a variable or option that selects the implementation tends to have.
SELECTOR_NAME = re.compile(r"impl|repo|target|variant|version|mode|solution|which|flavou?r", re.IGNORECASE)
COMMAND_FILES = ("README.md", "README.rst", "README.txt", "README", "Makefile", "run_tests.sh", "test.sh", "Dockerfile")
# Variables the commands of both implementations set that are the harness's business, never passed through.
NOT_PASSED = NOT_A_TOGGLE | {"PWD", "USER", "SHELL", "TERM", "LANG", "LC_ALL", "VIRTUAL_ENV"}
EXISTING_LIMIT = 20_000
TEST_DEFINITION = re.compile(r"^\s*(async\s+)?def test|^\s*class Test|unittest\.TestCase|\(TestCase\)", re.MULTILINE)
ROOT = "."  # a documented command that names no test path: pytest's own default (testpaths, or the root)


@dataclass
class ConventionSources(CommandClues):
    """What inference reads, already split into clues (built by `read_sources`, or by hand in tests)."""

    before_folder: str = "repository_before"
    after_folder: str = "repository_after"
    python: dict[str, str] = field(default_factory=dict)  # task-relative path -> source of tests and conftests
    existing: set[str] = field(default_factory=set)  # task-relative paths of the task's files and folders


@dataclass(frozen=True)
class InferredConventions:
    toggle: Toggle
    source: dict[str, Any]  # {"origin": "inferred" | "default", "kind": ..., "evidence": [...], ...}
    modules: tuple[str, ...]
    environment: dict[str, str] = field(default_factory=dict)  # set alike by both implementations' commands
    test_files: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role -> what its command runs
    test_options: dict[str, tuple[str, ...]] = field(default_factory=dict)  # role -> its command's -k / -m
    test_timeout: tuple[float, str] | None = None  # (seconds, where) of the documented commands' --timeout


def infer_conventions(
    root: Path, implementations: tuple[Implementation, ...], guessed_modules: list[str]
) -> InferredConventions:
    """Read the task's files and infer its toggle, the module names its tests import, and what they run."""
    sources = read_sources(root, implementations)
    toggle, evidence = infer_toggle(sources)
    origin = "inferred" if evidence else "default"
    if not evidence:
        evidence = ["nothing in docker-compose, README, conftest or tests selects an implementation: PYTHONPATH"]
    environment, shared = shared_variables(sources, toggle)
    test_files, runner = documented_tests(sources, toggle)
    test_options = documented_options(sources, toggle)
    for role, options in test_options.items():
        if options:
            runner.append(f"{role}'s documented command selects its tests with {' '.join(options)}")
    source: dict[str, Any] = {"origin": origin, "kind": toggle.kind, "evidence": evidence}
    if shared:
        source["environment"] = shared
    if runner:
        source["runner"] = runner
    modules = implementation_modules(toggle, sources, guessed_modules)
    timeout = documented_timeout(sources, toggle)
    return InferredConventions(toggle, source, modules, environment, test_files, test_options, timeout)


# --- reading the task's files ---------------------------------------------------------------------


def read_sources(root: Path, implementations: tuple[Implementation, ...]) -> ConventionSources:
    folders = {impl.name: impl.folder.relative_to(root).as_posix() for impl in implementations}
    sources = ConventionSources(
        before_folder=folders.get("before", "repository_before"), after_folder=folders.get("after", "repository_after")
    )
    add_command_files(sources, root)
    for count, path in enumerate(walk_files(root, ignored=TOOL_DIRS)):
        if count >= EXISTING_LIMIT:
            break
        relative = path.relative_to(root)
        sources.existing.update(parent.as_posix() for parent in relative.parents if parent != Path("."))
        sources.existing.add(relative.as_posix())
    tests = root / "tests"
    for path in sorted([root / "conftest.py", *tests.rglob("*.py")]):
        relative = path.relative_to(root)
        if any(part in IGNORED_DIRS for part in relative.parts) or not path.is_file():
            continue
        sources.python[relative.as_posix()] = _read(path)
    for invocation in sources.invocations:  # a test script a command runs (`python tests/unified_test.py`)
        script = invocation.args[0] if invocation.runner == "script" and invocation.args else ""
        if script and script not in sources.python and (root / script).is_file():
            sources.python[script] = _read(root / script)
    return sources


def add_command_files(clues: CommandClues, root: Path) -> None:
    """The commands of the task's compose file, README, Makefile and shell scripts."""
    compose = find_compose_file(root)
    if compose is not None:
        add_compose_clues(clues, compose.name, _read(compose))
    for name in COMMAND_FILES:
        if (root / name).is_file():
            add_text_clues(clues, name, _read(root / name))
    for path in sorted([*root.glob("*.sh"), *root.glob("scripts/*.sh")]):
        if path.name not in COMMAND_FILES:
            add_text_clues(clues, path.relative_to(root).as_posix(), _read(path))


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def add_compose_clues(sources: CommandClues, filename: str, text: str) -> None:
    """Each service's environment and command; its name, or else its variables' values, say which
    implementation it runs (a service `tests` with `TEST_REPO_DIR=repository_after` runs after)."""
    for service in read_compose(text):
        values = {
            role_of(with_defaults(value), ROLE_WORDS)
            for _, name, value in service.environment
            if name not in NOT_A_TOGGLE
        }
        by_values = values.pop() if len(values - {None}) == 1 and None not in values else None
        context = role_of(service.name, ROLE_WORDS) or by_values
        where = f"{filename}:{{line}} (service {service.name})"
        for line, name, written in service.environment:
            value = with_defaults(written)
            role = role_of(value, ROLE_WORDS) or context
            sources.assignments.append(Assignment(where.format(line=line), name, value, role))
        for line, command in service.commands:
            add_command_clues(sources, where.format(line=line), command, context)


# --- the toggle (pure) -----------------------------------------------------------------------------


def infer_toggle(sources: ConventionSources) -> tuple[Toggle, list[str]]:
    """The toggle the clues show, strongest first, with its evidence; PYTHONPATH with no evidence otherwise."""
    rules = (
        _pytest_option,
        _environment_variable,
        _working_folder,
        _selection_by_commands,
        _selection_by_imports,
        _undemonstrated_option,
        _package,
    )
    for rule in rules:
        found = rule(sources)
        if found is not None:
            return found
    pythonpath = _pythonpath_assignments(sources)
    if pythonpath:
        return Toggle(kind="pythonpath"), [_evidence(a) for a in pythonpath[:4]]
    return Toggle(kind="pythonpath"), []


def _options_added(sources: ConventionSources) -> Iterable[tuple[str, str, str]]:
    """(option, the text of its addoption call, where) for every option a conftest adds."""
    for path, text in sources.python.items():
        for match in re.finditer(r"addoption\(\s*(['\"])(--[\w-]+)\1", text):
            call = text[match.end() : match.end() + 400].split("addoption(")[0]
            where = f"{path}:{text.count(chr(10), 0, match.start()) + 1}: parser.addoption({match.group(2)!r})"
            yield match.group(2), call, where


def _pytest_option(sources: ConventionSources) -> tuple[Toggle, list[str]] | None:
    """A conftest option that a documented command passes (`pytest --repo before`), or that has `choices`.

    A value a command does not show (the README runs only `--repo after`) comes from the option's
    choices, its help text or its literals, once a command has shown that the option is the toggle.
    """
    for option, call, where in _options_added(sources):
        values, used = _option_values(option, sources.invocations)
        choices = _values_from_literals(_choices(call))
        if not used and not choices:
            continue
        completed = {**choices, **_values_from_literals(_string_literals(call)), **_roles_named(call), **values}
        if set(completed) >= set(ROLES) and completed["before"] != completed["after"]:
            return Toggle(kind="option", option=option, values={role: completed[role] for role in ROLES}), [
                where,
                *used,
            ]
    return None


def _undemonstrated_option(sources: ConventionSources) -> tuple[Toggle, list[str]] | None:
    """An option no command passes, whose help or literals name both implementations, read by a test or fixture:
    weaker than any command that selects files, so it comes after those."""
    for option, call, where in _options_added(sources):
        if not SELECTOR_NAME.search(option) or not _option_read(option, sources.python):
            continue
        values = {**_values_from_literals(_string_literals(call)), **_roles_named(call)}
        if set(values) >= set(ROLES) and values["before"] != values["after"]:
            return Toggle(kind="option", option=option, values={role: values[role] for role in ROLES}), [where]
    return None


def _option_read(option: str, python: dict[str, str]) -> bool:
    name = option.lstrip("-").replace("-", "_")
    pattern = rf"getoption\(\s*['\"]({re.escape(option)}|{name})['\"]|\.option\.{name}\b|sys\.argv"
    return any(re.search(pattern, text) for text in python.values())


def _choices(call: str) -> list[str]:
    match = re.search(r"choices\s*=\s*[\[(]([^\])]*)[\])]", call)
    return re.findall(r"['\"]([\w./-]+)['\"]", match.group(1)) if match else []


def _roles_named(text: str) -> dict[str, str]:
    """`before` and `after` as values, when the text names both as words (a help text: "before or after")."""
    return {role: role for role in ROLES} if all(re.search(rf"\b{role}\b", text) for role in ROLES) else {}


def _option_values(option: str, invocations: list[Invocation]) -> tuple[dict[str, str], list[str]]:
    """The option's value in each command that passes it, by the implementation the command is for."""
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
            role = role_of(value) or invocation.role
            if role and role not in values:
                values[role] = value
                used.append(f"{invocation.where}: {invocation.text or 'pytest ' + ' '.join(args)}")
    return values, used


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
        text = sources.python[where.split(":")[0]]
        values = _values_from_literals(_string_literals(text))
        if not values:
            values = _values_from_literals([*_string_literals(text), *_folder_defaults(name, text, sources)])
        if values:
            return _env_toggle(sources, name, values, [where])
    return None


def _folder_defaults(name: str, text: str, sources: ConventionSources) -> list[str]:
    """`os.environ.get("REPO_PATH", "repository_after")`: the default names one folder, so the variable holds a
    folder name, and the other implementation's folder is the other value."""
    match = re.search(rf"""(?:environ\.get|getenv)\(\s*['"]{name}['"]\s*,\s*['"]([\w./-]+)['"]""", text)
    if match and match.group(1).rstrip("/").endswith((sources.before_folder, sources.after_folder)):
        return [sources.before_folder, sources.after_folder]
    return []


def _env_toggle(
    sources: ConventionSources, name: str, values: dict[str, str], evidence: list[str]
) -> tuple[Toggle, list[str]]:
    """The variable's values as the tests will see them: an absolute path to an implementation folder
    (`/app/repository_before`, the container's) becomes that folder in the run's scratch copy; any other
    value (`repository_before`, a word, a relative path) is kept as written, since the run starts in the
    task root as the container does."""
    folders = {"before": sources.before_folder, "after": sources.after_folder}
    path_value = all(_names_folder(values[role], folders[role]) for role in ROLES)
    pythonpath = _pythonpath_assignments(sources, role_specific=True)
    evidence += [_evidence(a) for a in pythonpath[:2]]
    toggle = Toggle(kind="env", variable=name, values=values, pythonpath=bool(pythonpath), path_value=path_value)
    return toggle, evidence


def _names_folder(value: str, folder: str) -> bool:
    """An absolute path with the implementation folder as one of its parts."""
    return value.startswith("/") and f"/{folder}" in value.rstrip("/") + "/" and folder in value.split("/")


def _pythonpath_assignments(sources: ConventionSources, role_specific: bool = False) -> list[Assignment]:
    """PYTHONPATH settings tied to an implementation; with `role_specific`, only values that name its folder
    (`PYTHONPATH=/app`, the task root for both, does not select anything)."""
    found = [a for a in sources.assignments if a.name == "PYTHONPATH" and a.role]
    if not role_specific:
        return found
    folders = {"before": sources.before_folder, "after": sources.after_folder}
    other = {"before": sources.after_folder, "after": sources.before_folder}
    return [a for a in found if a.role in folders and folders[a.role] in a.value and other[a.role] not in a.value]


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
        role = plain_role(literal)
        if role and role not in values:
            values[role] = literal
    return values if set(values) == set(ROLES) else {}


def _working_folder(sources: ConventionSources) -> tuple[Toggle, list[str]] | None:
    """`cd repository_before && pytest` / `cd repository_after && pytest ../tests/x.py`: each implementation's
    tests run from its own folder (which `python -m pytest` puts first on the path)."""
    chosen: dict[str, Invocation] = {}
    folders = {"before": sources.before_folder, "after": sources.after_folder}
    for invocation in sources.invocations:
        role = invocation.role
        if role in folders and role not in chosen and invocation.cwd == folders[role]:
            chosen[role] = invocation
    if set(chosen) != set(ROLES):
        return None
    selection = {role: selecting_arguments(list(chosen[role].args)) for role in ROLES}
    evidence = [f"{chosen[role].where}: cd {folders[role]} && {chosen[role].text}" for role in ROLES]
    return Toggle(kind="cwd", selection=selection), evidence


def _selection_by_commands(sources: ConventionSources) -> tuple[Toggle, list[str]] | None:
    """Different pytest files or `-k` for before and after in the task's commands.

    A command that runs a program of an implementation (`python repository_before/pipeline.py`, a compose
    service that demonstrates it) defines no tests, so it selects none: only runs of the tests count.
    """
    chosen: dict[str, tuple[list[str], Invocation]] = {}
    for invocation in sources.invocations:
        if invocation.runner == "script" and _paths(invocation, sources) is None:
            continue
        if invocation.role and invocation.role not in chosen and invocation.cwd in (None, ROOT):
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
    evidence = [f"{chosen[role][1].where}: {chosen[role][1].text}" for role in ROLES]
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
            path = task_relative(arg).rstrip("/")
            if path.split("::")[0] in existing and path != "tests":
                selecting.append(path)
    return selecting


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


# --- what else the commands say (pure) -------------------------------------------------------------


def shared_variables(sources: ConventionSources, toggle: Toggle) -> tuple[dict[str, str], list[str]]:
    """Variables the commands of before and after both set, to the same value (a secret, a settings module):
    the tests need them as much as the toggle. PYTHONPATH, PATH and the toggle itself are not passed."""
    by_name: dict[str, dict[str, Assignment]] = {}
    for assignment in sources.assignments:
        if assignment.role in ROLES and assignment.name not in NOT_PASSED and assignment.name != toggle.variable:
            by_name.setdefault(assignment.name, {}).setdefault(assignment.role, assignment)
    environment: dict[str, str] = {}
    evidence = []
    for name, by_role in by_name.items():
        if set(by_role) == set(ROLES) and by_role["before"].value == by_role["after"].value:
            value = by_role["after"].value
            if "$" in value or role_of(value):
                continue  # `${VAR:-x}` is the caller's, and a value naming one implementation is not shared
            environment[name] = value
            evidence.append(_evidence(by_role["after"]))
    return environment, evidence


def documented_tests(sources: ConventionSources, toggle: Toggle) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """What each implementation's documented command runs, as pytest arguments: its test files, a unittest
    start folder, a test script (pytest runs unittest tests too), or nothing named (pytest's own default).

    Returns ({role: paths}, notes for the evidence). Empty when the commands show nothing usable, or when
    the toggle itself selects the files; a role without a command of its own runs what the other's does.
    """
    chosen = _documented_invocations(sources, toggle)
    if not chosen:
        return {}, []
    files = {role: _paths(chosen[role], sources) or () for role in ROLES}
    notes = []
    for role in ROLES:
        invocation = chosen[role]
        if invocation.runner != "pytest":
            notes.append(
                f"{invocation.where}: `{invocation.text}` is run under pytest (it runs {invocation.runner} tests)"
            )
    if files["before"] != files["after"]:
        notes.append(f"the documented commands run different tests: before {files['before']}, after {files['after']}")
    return files, list(dict.fromkeys(notes))


def documented_options(sources: ConventionSources, toggle: Toggle) -> dict[str, tuple[str, ...]]:
    """The `-k` and `-m` expressions each implementation's documented command selects its tests with
    (`pytest tests -k "not Baseline"`): {role: ("-k", expression, ...)}, empty when no command passes any."""
    chosen = _documented_invocations(sources, toggle)
    options = {role: _selecting_options(chosen[role].args) for role in chosen}
    return options if any(options.values()) else {}


def documented_timeout(sources: ConventionSources, toggle: Toggle) -> tuple[float, str] | None:
    """(seconds, where) of the `--timeout` the documented commands give each test: the larger where before's
    and after's differ (a hung before only takes longer to fail; an after never gets less than its command
    gives it). None when no command passes one."""
    chosen = _documented_invocations(sources, toggle)
    given = [
        (seconds, f"{i.where}: --timeout={seconds:g}") for i in chosen.values() if (seconds := timeout_option(i.args))
    ]
    return max(given) if given else None


def missing_test_paths(root: Path) -> list[tuple[str, str]]:
    """(where, path) of each test file or folder a documented pytest command names that the task does not have:
    pytest exits 4 there ("file or directory not found"), while a grade runs what the task does have."""
    clues = CommandClues()
    add_command_files(clues, root)  # the commands only: the file system says what exists
    missing: dict[tuple[str, str], None] = {}
    for invocation in clues.invocations:
        if invocation.runner != "pytest" or invocation.cwd not in (None, ROOT):
            continue
        files, _ = split_arguments(list(invocation.args))
        for path in files:
            written = (path[2:] if path.startswith("./") else path).split("::")[0].rstrip("/")
            relative = task_relative(written).rstrip("/")
            if not ("/" in relative or relative.endswith(".py")) or any(c in relative for c in "*?[$"):
                continue  # an option's value, a glob or a variable the shell expands: not a path to check
            if not (root / relative).exists() and not (root / written).exists():
                missing[(invocation.where, relative)] = None
    return list(missing)


def _selecting_options(args: Iterable[str]) -> tuple[str, ...]:
    found: list[str] = []
    words = list(args)
    for index, arg in enumerate(words):
        if arg in ("-k", "-m") and index + 1 < len(words):
            found += [arg, words[index + 1]]
        elif arg.startswith(("-k", "-m")) and len(arg) > 2 and not arg.startswith("--"):
            found += [arg[:2], arg[2:].lstrip("=")]
    return tuple(found)


def _documented_invocations(sources: ConventionSources, toggle: Toggle) -> dict[str, Invocation]:
    """The documented run of the tests for each implementation (a role whose command is not shown runs the
    other's); empty when the commands show none, or when the toggle itself selects the files."""
    if toggle.kind in ("selection", "cwd"):
        return {}
    chosen: dict[str, Invocation] = {}
    untagged: list[Invocation] = []
    for invocation in sources.invocations:
        if _paths(invocation, sources) is None:
            continue
        if invocation.role in ROLES:
            chosen.setdefault(invocation.role, invocation)
        else:
            untagged.append(invocation)
    if not chosen and untagged and len({_paths(i, sources) for i in untagged}) == 1:
        chosen = {role: untagged[0] for role in ROLES}
    if not chosen:
        return {}
    for role in ROLES:  # the implementation whose command is not shown runs the same way as the other's
        chosen.setdefault(role, next(iter(chosen.values())))
    return chosen


def _paths(invocation: Invocation, sources: ConventionSources) -> tuple[str, ...] | None:
    """The test paths an invocation runs, task-relative (ROOT alone: it names none); None when it is not a run
    of the tests (a script that defines none, a path that does not exist)."""
    if invocation.cwd not in (None, ROOT):
        return None
    if invocation.runner == "script":
        script = invocation.args[0] if invocation.args else ""
        return (script,) if TEST_DEFINITION.search(sources.python.get(script, "")) else None
    files, _ = split_arguments(list(invocation.args))
    if not files:
        return (ROOT,)
    found = tuple(task_relative(path).rstrip("/") or ROOT for path in files)
    if not all(path == ROOT or path.split("::")[0] in sources.existing for path in found):
        return None
    folders = (sources.before_folder + "/", sources.after_folder + "/")
    if all(path.startswith(folders) for path in found):
        return None  # the implementation's own test suite (a meta task's deliverable), not the task's tests
    return found


def implementation_modules(toggle: Toggle, sources: ConventionSources, guessed: list[str]) -> tuple[str, ...]:
    """The module names the toggle itself selects, for the import proof: `m` where the toggle puts the folder on
    the path (PYTHONPATH, the working folder), `repository_after.m` for a package. Where a variable or option
    only tells the tests' own code which folder to use, what they import by which name is theirs to choose
    (an equivalence test imports both), so only the files each run reads are judged."""
    if toggle.kind == "package":
        return tuple(f"{sources.after_folder}.{module}" for module in guessed)
    if toggle.kind in ("pythonpath", "cwd") or (toggle.kind == "env" and toggle.pythonpath):
        return tuple(guessed)
    return ()
