"""A manifest's arrays of tables ([[workloads]], [[histories]]): each entry's keys and its short name, checked alike."""

from __future__ import annotations

import re
from typing import Any

from concgrade.errors import TaskError

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def entry_name(entry: dict[str, Any], where: str, label: str, keys: set[str]) -> str:
    """The entry's name, once its keys are all known ones and the name is a short name (else TaskError)."""
    unknown = sorted(set(entry) - keys)
    if unknown:
        raise TaskError(f"{where}: {label} has unknown key(s) {unknown}; known: {sorted(keys)}")
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise TaskError(f"{where}: {label}.name must be a short name (letters, digits, '-', '_', '.')")
    return name
