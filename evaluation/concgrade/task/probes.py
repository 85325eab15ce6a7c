"""The manifest's `[[probes]]`: targets the harness probes around every test, without any change to the tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from concgrade.errors import TaskError

KINDS = ("auto", "threads", "asyncio", "processes", "pending")


@dataclass(frozen=True)
class DeclaredProbe:
    kind: str  # threads, asyncio, processes, pending, or auto (asyncio for a coroutine function, else threads)
    target: str  # "module.function" or "module:function" ("" for a pending probe)

    def option(self) -> str:
        """The plugin's --concgrade-probe value."""
        return f"{self.kind}={self.target}"


def read_probes(section: Any, manifest_path: Path) -> tuple[DeclaredProbe, ...]:
    """Validate `[[probes]]` entries: a table each, with a target (except kind pending) and a known kind."""
    if not isinstance(section, list):
        raise TaskError(f'{manifest_path}: probes must be an array of tables: [[probes]] target = "module.function"')
    probes = []
    for index, entry in enumerate(section, 1):
        where = f"{manifest_path}: probes #{index}"
        if not isinstance(entry, dict):
            raise TaskError(f"{where} must be a table with a target")
        unknown = set(entry) - {"target", "kind"}
        if unknown:
            raise TaskError(f"{where}: unknown key(s) {sorted(unknown)}; use target and kind")
        kind = entry.get("kind", "auto")
        if kind not in KINDS:
            raise TaskError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
        target = entry.get("target", "")
        if not isinstance(target, str) or (kind != "pending" and not _valid_target(target)):
            raise TaskError(f"{where}: target must be 'module.function' or 'module:function', not {target!r}")
        probes.append(DeclaredProbe(kind, target))
    return tuple(probes)


def _valid_target(target: str) -> bool:
    module, sep, attribute = target.partition(":")
    if not sep:
        module, _, attribute = target.rpartition(".")
    names = [*module.split("."), *attribute.split(".")]
    return bool(module and attribute) and all(name.isidentifier() for name in names)
