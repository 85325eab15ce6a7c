"""`concgrade check --fix`: each fix writes a file that does not exist yet or appends a table that is absent;
the one that rewrites a file (an instances file's lists) keeps the file as it was beside it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from concgrade.task.manifest import MANIFEST_PATH
from concgrade.task.model import SUITES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


def write_new_manifest(root: Path, suites: dict[str, list[str]], source: str) -> bool:
    path = root / MANIFEST_PATH
    if path.exists():
        return False
    text = _suites_toml(suites, source)
    if not _valid_toml(text):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def append_suites(root: Path, suites: dict[str, list[str]], source: str) -> bool:
    path = root / MANIFEST_PATH
    text = _read(path)
    combined = text + ("" if text.endswith("\n") or not text else "\n") + "\n" + _suites_toml(suites, source)
    if not _valid_toml(combined) or tomllib.loads(combined).get("suites") != suites:
        return False
    path.write_text(combined, encoding="utf-8")
    return True


def _suites_toml(suites: dict[str, list[str]], source: str) -> str:
    lines = [f"# Written by `concgrade check --fix` from {source}.", "[suites]"]
    for name in SUITES:
        items = "".join(f"    {json.dumps(entry, ensure_ascii=False)},\n" for entry in suites[name])
        lines.append(f"{name} = [\n{items}]" if items else f"{name} = []")
    return "\n".join(lines) + "\n"


def _valid_toml(text: str) -> bool:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return False
    return True


def ignore_reports(reports: Path) -> bool:
    path = reports / ".gitignore"
    if path.exists():
        return False
    path.write_text("# Reports are written by concgrade on every run.\n*\n", encoding="utf-8")
    return True


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def write_instance_lists(root: Path, relative: str, lists: dict[str, list[str]]) -> bool:
    """Put the lists the runs showed into the instances file (its other keys kept; a list kept as JSON text when
    the file wrote it so). The file as it was is kept beside it as `<name>.orig`, the first time."""
    path = root / relative
    original = path.read_bytes() if path.is_file() else b""
    try:
        data = json.loads(original.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        data = None
    document = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else data
    if not isinstance(document, dict):  # not JSON, or no object: a new object, with the id if it can be read
        found = re.search(rb'"instance_id"\s*:\s*"([^"]*)"', original)
        document = {"instance_id": found.group(1).decode("utf-8", "replace")} if found else {}
        data = document
    for name in SUITES:
        as_text = isinstance(document.get(name), str)  # SWE-bench keeps the lists as JSON text inside JSON
        document[name] = json.dumps(lists[name]) if as_text else list(lists[name])
    backup = path.with_name(path.name + ".orig")
    if original and not backup.exists():
        backup.write_bytes(original)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    temporary.replace(path)
    return True
