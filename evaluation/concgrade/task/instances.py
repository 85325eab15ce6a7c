"""SWE-bench style `instances/*.json` (FAIL_TO_PASS / PASS_TO_PASS), read leniently (grade/instances.py audits it).

Instance files in the wild name tests as full node ids, bare test names or paths relative to `tests/`,
and are sometimes missing, empty, not JSON, or wrong. None of that stops a grade: the suites are then
inferred from the runs, and the disagreement is reported as findings with the corrected lists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from concgrade.task.model import SUITES, InstanceFile, is_class_qualified


def read_instances(root: Path) -> InstanceFile:
    """The first `instances/*.json` of the task (sorted by name), never raising for its content."""
    files = sorted((root / "instances").glob("*.json"))
    if not files:
        return InstanceFile(None, "missing", problem="no instances/*.json")
    path = files[0]
    relative = path.relative_to(root).as_posix()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return InstanceFile(relative, "invalid", problem=f"invalid JSON ({exc})")
    except OSError as exc:
        return InstanceFile(relative, "invalid", problem=f"unreadable ({exc.strerror})")
    suites, problem = parse_instance(data)
    if problem:
        return InstanceFile(relative, "invalid", problem=problem)
    if not any(suites.values()):
        return InstanceFile(relative, "empty", suites, "FAIL_TO_PASS and PASS_TO_PASS are both empty")
    return InstanceFile(relative, "valid", suites)


def parse_instance(data: Any) -> tuple[dict[str, list[str]], str | None]:
    """The normalized suites of one instance object (or the first of a list), or the reason it has none."""
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict):
        return {}, "expected an object with FAIL_TO_PASS and PASS_TO_PASS lists"
    if not any(name in data for name in SUITES):
        return {}, "has neither FAIL_TO_PASS nor PASS_TO_PASS"
    suites = {}
    for name in SUITES:
        entries = data.get(name) or []
        if isinstance(entries, str):  # SWE-bench stores the lists as JSON text inside JSON
            try:
                entries = json.loads(entries)
            except json.JSONDecodeError:
                return {}, f"{name} is a string that is not a JSON list"
        if not isinstance(entries, list) or not all(isinstance(e, str) and e.strip() for e in entries):
            return {}, f"{name} must be a list of test ids"
        suites[name] = list(dict.fromkeys(normalize_instance_id(e) for e in entries))
    return suites, None


def normalize_instance_id(entry: str) -> str:
    """A node id relative to the task root: full ids kept, `tests/` added to paths relative to it."""
    entry = entry.strip().replace("\\", "/")
    while entry.startswith("./"):
        entry = entry[2:]
    path, sep, rest = entry.partition("::")
    if is_class_qualified(entry):
        return entry  # `TestFoo::test_bar`: matched as the tail of the collected node ids
    if sep or path.endswith(".py"):
        if not path.startswith("tests/"):
            path = "tests/" + path
        return path + sep + rest
    return entry  # a bare test name: matched by name against the collected node ids
