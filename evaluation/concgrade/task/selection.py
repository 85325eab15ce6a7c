"""Tasks that select each implementation's tests by file or `-k`: split those arguments, pair node ids (pure).

When before runs `tests/test_before.py` and after runs `tests/test_after.py`, the same check has two node
ids. Grading compares node ids across runs, so each run's ids are rewritten to one paired form in which
the word that tells the implementations apart is replaced by `{impl}`: `tests/test_{impl}.py::test_x`.
"""

from __future__ import annotations

import re

from concgrade.task.toggle import Toggle

PLACEHOLDER = "{impl}"
# pytest options whose value is the next argument (so that value is not taken for a test file).
VALUE_OPTIONS = frozenset(
    {
        "-k",
        "-m",
        "-p",
        "-o",
        "-c",
        "-r",
        "-W",
        "-n",
        "--tb",
        "--maxfail",
        "--durations",
        "--deselect",
        "--ignore",
        "--ignore-glob",
        "--rootdir",
        "--basetemp",
        "--confcutdir",
        "--junitxml",
        "--log-level",
        "--cov",
        "--cov-report",
        "--cov-config",
        "--import-mode",
        "--capture",
        "--color",
        "--log-cli-level",
        # the plugins dataset tasks use most: pytest-timeout, -asyncio, -xdist, -rerunfailures, -repeat, -html
        "--timeout",
        "--timeout-method",
        "--timeout_method",
        "--asyncio-mode",
        "--dist",
        "--reruns",
        "--reruns-delay",
        "--count",
        "--html",
        "--json-report-file",
    }
)
ROLES = ("before", "after")


def split_arguments(args: list[str]) -> tuple[list[str], list[str]]:
    """The test files (and folders or node ids) among pytest arguments, and the remaining options."""
    files: list[str] = []
    options: list[str] = []
    pending_value = False
    for arg in args:
        if pending_value:
            options.append(arg)
            pending_value = False
        elif arg.startswith("-"):
            options.append(arg)
            pending_value = arg in VALUE_OPTIONS
        else:
            files.append(arg)
    return files, options


def selecting_arguments(args: list[str]) -> list[str]:
    """Of a documented command's arguments, those that choose tests (paths, `-k`, `-m`); its output options
    (`-q`, `-v`, `--tb=no`, `-r no`) are the harness's business."""
    files, options = split_arguments(args)
    chosen = []
    for index, option in enumerate(options):
        if option in ("-k", "-m") and index + 1 < len(options):
            chosen += [option, options[index + 1]]
        elif option.startswith(("-k", "-m")) and len(option) > 2 and not option.startswith("--"):
            chosen.append(option)
    return [*files, *chosen]


def with_keyword(args: list[str], expression: str | None) -> list[str]:
    """pytest arguments with a further `-k` expression, and-ed with one they already hold (pytest keeps only
    the last -k it is given, so a toggle's `-k before` and a user's `-k order` must become one expression)."""
    if not expression:
        return list(args)
    kept: list[str] = []
    existing: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "-k" and index + 1 < len(args):
            existing.append(args[index + 1])
            index += 2
            continue
        if arg.startswith("-k") and len(arg) > 2:
            existing.append(arg[2:].lstrip("="))
        else:
            kept.append(arg)
        index += 1
    combined = " and ".join(f"({part})" for part in [*existing, expression]) if existing else expression
    return [*kept, "-k", combined]


def selected_files(toggle: Toggle) -> list[str]:
    """Every test file a selection toggle names, for any implementation (without `::` node parts)."""
    if toggle.kind != "selection":
        return []
    found = {f.split("::")[0] for args in toggle.selection.values() for f in split_arguments(args)[0]}
    return sorted(found)


def keyword_words(args: list[str]) -> list[str]:
    """The `-k` expressions that are a single word (`-k before`); a complex expression pairs nothing."""
    words = []
    for index, arg in enumerate(args):
        if arg == "-k" and index + 1 < len(args):
            expression = args[index + 1]
        elif arg.startswith("-k") and len(arg) > 2:
            expression = arg[2:].lstrip("=")
        else:
            continue
        if re.fullmatch(r"\w+", expression):
            words.append(expression)
    return words


def differing_words(first: str, second: str) -> tuple[str, str]:
    """The middle parts that differ between two paths, widened to whole words (sync vs async)."""
    prefix = 0
    while prefix < min(len(first), len(second)) and first[prefix] == second[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(first), len(second)) - prefix and first[-1 - suffix] == second[-1 - suffix]:
        suffix += 1
    while prefix > 0 and first[prefix - 1].isalnum():
        prefix -= 1
    while suffix > 0 and first[len(first) - suffix].isalnum():
        suffix -= 1
    return first[prefix : len(first) - suffix], second[prefix : len(second) - suffix]


def tokens_by_role(toggle: Toggle) -> dict[str, list[str]]:
    """The words that tell each implementation's tests apart: from paired files, then from `-k`."""
    tokens: dict[str, list[str]] = {role: [] for role in ROLES}
    if toggle.kind != "selection":
        return tokens
    args = {role: list(toggle.selection.get(role, [])) for role in ROLES}
    files = {role: split_arguments(args[role])[0] for role in ROLES}
    if len(files["before"]) == len(files["after"]):
        for before_file, after_file in zip(files["before"], files["after"], strict=True):
            before_word, after_word = differing_words(before_file, after_file)
            if before_word and after_word:
                tokens["before"].append(before_word)
                tokens["after"].append(after_word)
    for role in ROLES:
        tokens[role] += keyword_words(args[role])
    return tokens


def replace_word(text: str, word: str) -> str:
    """Replace `word` (any case) by the placeholder where it stands as a word: test_before, TestBefore."""
    pieces, last = [], 0
    for match in re.finditer(re.escape(word), text, re.IGNORECASE):
        start, end = match.span()
        inside_word = start > 0 and text[start - 1].isalpha() and not text[start].isupper()
        if inside_word or (end < len(text) and text[end].islower()):
            continue
        pieces += [text[last:start], PLACEHOLDER]
        last = end
    return "".join(pieces) + text[last:]


def canonical_nodeid(nodeid: str, words: list[str]) -> str:
    for word in words:
        nodeid = replace_word(nodeid, word)
    return nodeid


def canonical_entries(entries: list[str], toggle: Toggle) -> list[str]:
    """Suite entries in the paired form, whichever implementation's name they were written with."""
    tokens = tokens_by_role(toggle)
    words = tokens["after"] + tokens["before"]
    return list(dict.fromkeys(canonical_nodeid(entry, words) for entry in entries))
