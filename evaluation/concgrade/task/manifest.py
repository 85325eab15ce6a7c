"""The task's manifest (`evaluation/concgrade.toml`): read once, each table validated with a message naming the key."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from concgrade.errors import TaskError
from concgrade.task.model import SUITES, Implementation, Limits
from concgrade.task.toggle import TOGGLE_KINDS, Toggle

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

MANIFEST_NAME = "concgrade.toml"
MANIFEST_PATH = f"evaluation/{MANIFEST_NAME}"

LIMIT_UNITS = {
    "test_timeout": "number of seconds",
    "run_timeout": "number of seconds",
    "memory_mb": "number of MiB",
    "max_tasks": "whole number of processes and threads",
    "cpu_seconds": "number of seconds",
    "file_size_mb": "number of MiB",
    "output_mb": "number of MiB",
    "disk_mb": "number of MiB",
}
TOGGLE_KEYS = ("kind", "variable", "values", "pythonpath", "option", "selection", "path_value")
# The one list of what a manifest may hold (docs/manifest.md documents each): table → its keys, or None where
# the table's own reader checks them (constraints in static/constraints.py; [[probes]], [[workloads]],
# [mutants], [[histories]] in task/). `concgrade check` (CL014) and `load_task` both ask here.
TABLES: dict[str, tuple[str, ...] | None] = {
    "task": ("name", "modules"),
    "implementations": ("before", "after"),
    "toggle": TOGGLE_KEYS,
    "suites": SUITES,
    "limits": tuple(LIMIT_UNITS),
    "constraints": None,
    "probes": None,
    "workloads": None,
    "mutants": None,
    "histories": None,
}


def unknown_names(manifest: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Each table or key the manifest holds that concgrade does not know, with a "did you mean" hint:
    (`[toogle]`, ` (did you mean [toggle]?)`), (`task.nmae`, ` (did you mean task.name?)`)."""
    for name, value in manifest.items():
        if name not in TABLES:
            yield f"[{name}]", did_you_mean(name, list(TABLES), "[{}]", "known tables: " + ", ".join(TABLES))
            continue
        keys = TABLES[name]
        if keys is None or not isinstance(value, dict):
            continue
        for key in value:
            if key not in keys:
                yield (
                    f"{name}.{key}",
                    did_you_mean(key, list(keys), f"{name}.{{}}", f"[{name}] takes " + ", ".join(keys)),
                )


def did_you_mean(word: str, known: list[str], form: str, otherwise: str) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f" (did you mean {form.format(close[0])}?)" if close else f" ({otherwise})"


def check_names(manifest: dict[str, Any], path: Path) -> None:
    """A misspelt table or key is an error, not a silent default: `[toogle]` would grade with PYTHONPATH."""
    for name, hint in unknown_names(manifest):
        raise TaskError(f"{path}: unknown {'table' if name.startswith('[') else 'key'} {name}{hint}")


def read_manifest(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise TaskError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TaskError(f"{path}: invalid TOML: {exc}") from None


def table(value: Any, path: Path, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TaskError(f"{path}: [{key}] must be a table")
    return value


def implementations_table(root: Path, section: Any, manifest_path: Path) -> tuple[Implementation, ...]:
    section = table(section, manifest_path, "implementations")
    found = []
    for name in ("before", "after"):
        relative = section.get(name, f"repository_{name}")
        folder = (root / str(relative)).resolve()
        # A task written from scratch may have no before folder at all (greenfield): before has nothing to import.
        absent_allowed = name == "before" and name not in section and not folder.exists()
        if not folder.is_dir() and not absent_allowed:
            raise TaskError(f"{folder}: missing {name} implementation folder (expected {root.name}/{relative}/)")
        if not folder.is_relative_to(root):
            raise TaskError(f"{manifest_path}: implementations.{name} points outside the task: {relative}")
        found.append(Implementation(name, name, folder))
    return tuple(found)


def toggle_table(section: Any, manifest_path: Path) -> Toggle:
    section = table(section, manifest_path, "toggle")
    kind = section.get("kind", "pythonpath")
    if kind not in TOGGLE_KINDS:
        raise TaskError(f"{manifest_path}: toggle.kind must be one of {', '.join(TOGGLE_KINDS)}, not {kind!r}")
    variable = section.get("variable")
    if kind == "env" and not (isinstance(variable, str) and variable.isidentifier()):
        raise TaskError(f"{manifest_path}: toggle.kind = 'env' needs toggle.variable, a variable name")
    option = section.get("option")
    if kind == "option" and not (isinstance(option, str) and option.startswith("-") and " " not in option):
        raise TaskError(f"{manifest_path}: toggle.kind = 'option' needs toggle.option, e.g. \"--repo\"")
    values = table(section.get("values", {}), manifest_path, "toggle.values")
    selection = table(section.get("selection", {}), manifest_path, "toggle.selection")
    for name, args in selection.items():
        if not isinstance(args, list) or not all(isinstance(a, str) and a for a in args):
            raise TaskError(f"{manifest_path}: toggle.selection.{name} must be a list of pytest arguments")
    if kind == "selection" and not {"before", "after"} <= set(selection):
        raise TaskError(f"{manifest_path}: toggle.kind = 'selection' needs toggle.selection.before and .after")
    return Toggle(
        kind=kind,
        variable=variable,
        values={str(k): str(v) for k, v in values.items()},
        pythonpath=bool(section.get("pythonpath", False)),
        option=option,
        selection={str(k): list(v) for k, v in selection.items()},
        path_value=bool(section.get("path_value", False)),
    )


def suites_table(section: Any, manifest_path: Path) -> dict[str, list[str]]:
    if section is None:
        raise TaskError(f"{manifest_path}: no [suites] table (PASS_TO_PASS and FAIL_TO_PASS lists)")
    section = table(section, manifest_path, "suites")
    unknown = set(section) - set(SUITES)
    if unknown:
        raise TaskError(f"{manifest_path}: unknown suite(s) {sorted(unknown)}; use {list(SUITES)}")
    suites = {}
    for name in SUITES:
        entries = section.get(name, [])
        if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
            raise TaskError(f"{manifest_path}: suites.{name} must be a list of test files or node ids")
        suites[name] = [e.replace("\\", "/") for e in entries]
    return suites


def limits_table(section: Any, manifest_path: Path) -> Limits:
    section = table(section, manifest_path, "limits")
    unknown = sorted(set(section) - set(LIMIT_UNITS))
    if unknown:
        raise TaskError(f"{manifest_path}: unknown limit(s) {unknown}; use {sorted(LIMIT_UNITS)}")
    values: dict[str, Any] = {}
    for key, unit in LIMIT_UNITS.items():
        if key in section:
            value = section[key]
            whole = key == "max_tasks"
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or value <= 0
                or (whole and value != int(value))
            ):
                raise TaskError(f"{manifest_path}: limits.{key} must be a positive {unit}")
            values[key] = int(value) if whole else float(value)
    declared = "test_timeout" in values
    return Limits(
        **values, test_timeout_declared=declared, test_timeout_source=f"evaluation/{MANIFEST_NAME}" if declared else ""
    )
