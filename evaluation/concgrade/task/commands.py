"""The test commands a task's own files show: variables they set, the runner, its arguments and working folder (pure).

Commands come from a README (code blocks, indented or inline), a compose service's `command` and
`environment`, a Makefile or a shell script, in whatever shell a container runs them in:
`docker compose run -e REPO_PATH=repository_before app bash -c "python -m unittest discover -s tests"`,
`cd repository_after && python -m pytest ../tests/test_x.py`, `pytest tests --repo before; exit 0`.
Each becomes clues: the assignments it makes, and an Invocation of the test runner (pytest, unittest, or a
test script) with its arguments as pytest would take them, the folder it ran in, and the implementation
it is for when the command, a heading just above it or its compose service says which.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

ROLES = ("before", "after")
# Words that say which implementation a value, a service or a command is about.
ROLE_WORDS: dict[str, tuple[str, ...]] = {
    "before": ("before", "old", "original", "legacy", "baseline", "unsafe"),
    "after": ("after", "new", "refactored", "refactor", "solution", "fixed"),
}
# Variables that are settings, never the toggle.
NOT_A_TOGGLE = {"PYTHONPATH", "PATH", "HOME", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED"}
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")", ";;"}
PYTHON = re.compile(r"^(\S*/)?python(\d(\.\d+)?)?$")
# A line of text that may hold a command worth reading.
COMMAND_HINT = re.compile(
    r"pytest|unittest|(^|\s)-e\s+[A-Z_][A-Z0-9_]*=|(^|\s)cd\s+\S|python\S*\s+\S+\.py|^\s*(export\s+)?[A-Z_][A-Z0-9_]*=\S"
)


@dataclass(frozen=True)
class Assignment:
    where: str
    name: str
    value: str
    role: str | None


@dataclass(frozen=True)
class Invocation:
    """A test command the task's files show, with the implementation it is for (if that is clear).

    `args` are pytest's arguments (a unittest or script command translated: its start folder or file);
    `cwd` is the task-relative folder it ran in when the command changed folder first.
    """

    where: str
    args: tuple[str, ...]
    role: str | None
    runner: str = "pytest"  # "pytest", "unittest" or "script"
    cwd: str | None = None
    text: str = ""  # the command as written, for the evidence


@dataclass
class CommandClues:
    assignments: list[Assignment] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)


def shell_words(command: str) -> list[str]:
    """The words of a shell command, with `;`, `&&`, `||`, `|` and parentheses as words of their own."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote: read it word by word
        return command.split()


def role_of(text: str, words: dict[str, tuple[str, ...]] = ROLE_WORDS) -> str | None:
    """before or after, if the text names exactly one of them (as a word: test_before, TestAfter, /before/)."""
    found = set()
    for role, names in words.items():
        for name in names:
            if re.search(rf"(?<![A-Za-z]){name}(?![a-z])", text, re.IGNORECASE) or re.search(
                rf"(?<=[a-z]){name.capitalize()}(?![a-z])", text
            ):
                found.add(role)
    return found.pop() if len(found) == 1 else None


def plain_role(text: str) -> str | None:
    """before or after, named by those very words only (a heading, a folder name)."""
    return role_of(text, {role: (role,) for role in ROLES})


def add_command_clues(clues: CommandClues, where: str, command: str, context: str | None) -> None:
    """Assignments and test-runner invocations in one shell command (recursing into `sh -c "..."`)."""
    command = re.sub(r"^\s*(\$|>|RUN|CMD|ENTRYPOINT)\s+", "", command.strip())
    words = shell_words(command)
    assigned: list[Assignment] = []
    cwd: str | None = None
    index = 0
    while index < len(words):
        word = words[index]
        known = _role_of_assignments(assigned) or context
        if " " in word and COMMAND_HINT.search(word):  # sh -c "...": a command inside a word
            add_command_clues(clues, where, word, known if cwd is None else plain_role(cwd) or known)
        assignment = _assignment(word)
        if assignment is not None:
            name, value = assignment[0], with_defaults(assignment[1])
            assigned.append(Assignment(where, name, value, role_of(value, ROLE_WORDS) or context))
        if word == "cd" and index + 1 < len(words) and words[index + 1] not in SEPARATORS:
            cwd = task_relative(words[index + 1]).rstrip("/") or "."
        runner, args, end = _runner(words, index)
        if runner:
            role = (
                role_of(_without_negations(args), ROLE_WORDS)
                or (plain_role(cwd) if cwd else None)
                or _role_of_assignments(assigned)
                or context
            )
            clues.invocations.append(Invocation(where, tuple(args), role, runner, cwd, " ".join(words[index:end])))
            index = end
            continue
        index += 1
    clues.assignments += assigned


def _without_negations(args: list[str]) -> str:
    """The arguments as text, less the words a `-k`/`-m` expression excludes: `-k "not Baseline"` runs everything
    but the baseline tests, so it does not name before (the command's service or heading says whose it is)."""
    return re.sub(r"\bnot\s+[\w.\[\]-]+", " ", " ".join(args))


def with_defaults(value: str) -> str:
    """A value as the shell would give it when the caller sets nothing: `${NAME:-default}` is `default`."""
    return re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", value)


def _assignment(word: str) -> tuple[str, str] | None:
    """`NAME=value` (a shell prefix, or the value of `-e`/`--env`), `--env=NAME=value`; not an option's `--x=y`."""
    if word.startswith("--env="):
        word = word[len("--env=") :]
    elif word.startswith("-"):
        return None
    match = ASSIGNMENT.match(word)
    return (match.group(1), match.group(2)) if match else None


def _runner(words: list[str], index: int) -> tuple[str | None, list[str], int]:
    """The test runner that starts at words[index], its pytest arguments, and where its command ends."""
    word = words[index]
    end = index + 1
    while end < len(words) and words[end] not in SEPARATORS:
        end += 1
    rest = words[index + 1 : end]
    if word.endswith("pytest") or word == "py.test":
        return "pytest", rest, end
    if not PYTHON.match(word) or not rest:
        return None, [], index
    if rest[:2] == ["-m", "pytest"]:
        return None, [], index  # the next word, `pytest`, is the runner
    if rest[:2] == ["-m", "unittest"]:
        return "unittest", unittest_arguments(rest[2:]), end
    if rest[0].endswith(".py") and not rest[0].startswith("-"):
        return "script", [task_relative(rest[0])], end
    return None, [], index


def unittest_arguments(args: list[str]) -> list[str]:
    """`python -m unittest` arguments as pytest's: `discover -s tests` is `tests`, `tests.test_x` is a file."""
    if not args or args[0] == "discover":
        return _discover_start(args[1:])
    found = []
    for arg in args:
        if arg.startswith("-"):
            continue
        if arg.endswith(".py") or "/" in arg:
            found.append(task_relative(arg))
        else:  # tests.test_x or tests.test_x.TestCase.test_y
            parts = arg.split(".")
            found.append("/".join(parts[:2]) + ".py" + "".join(f"::{p}" for p in parts[2:]))
    return found


def _discover_start(options: list[str]) -> list[str]:
    """`discover [-s START] [-p PATTERN] [START [PATTERN [TOP]]]`: the start folder (pytest's default is the root)."""
    start, positional, skip = ".", [], False
    for index, option in enumerate(options):
        if skip:
            skip = False
        elif option in ("-s", "--start-directory"):
            start, skip = (options[index + 1] if index + 1 < len(options) else "."), True
        elif option in ("-p", "--pattern", "-t", "--top-level-directory"):
            skip = True
        elif not option.startswith("-"):
            positional.append(option)
    if start == "." and positional:
        start = positional[0]
    start = task_relative(start).rstrip("/")
    return [start] if start not in (".", "") else []


def _role_of_assignments(assignments: list[Assignment]) -> str | None:
    roles = {a.role for a in assignments if a.role and a.name not in NOT_A_TOGGLE - {"PYTHONPATH"}}
    return roles.pop() if len(roles) == 1 else None


def task_relative(path: str) -> str:
    """`/app/tests/x.py`, `./tests/x.py` or `/app/repository_before` as task-relative paths (the container's
    working folder is the task root)."""
    path = path.replace("\\", "/")
    if path.startswith("/app/"):
        return path[len("/app/") :]
    if path == "/app":
        return "."
    if "/tests/" in path and not path.startswith(("tests/", ".")):
        return "tests/" + path.split("/tests/", 1)[1]
    return path[2:] if path.startswith("./") else path


def add_text_clues(clues: CommandClues, filename: str, text: str) -> None:
    """Commands in a README, Makefile or script: any line that runs tests, changes folder or sets a variable."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if not COMMAND_HINT.search(line):
            continue
        nearby = " ".join(lines[max(0, index - 2) : index])  # a heading or comment just above the command
        context = plain_role(nearby)
        snippets = re.findall(r"`([^`]*(?:pytest|unittest|python)[^`]*)`", line) or [line]
        for snippet in snippets:
            own = plain_role(re.sub(r"\S*pytest\S*|\S+=\S+|--?[\w-]+|\bcd\s+\S+", " ", snippet))
            add_command_clues(clues, f"{filename}:{index + 1}", snippet, own or context)
