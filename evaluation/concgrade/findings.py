"""One shape for every finding: rule findings, constraint violations, lint checks and instances audits."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """Something a check found in a task or its sources, with where it is."""

    id: str  # a rule (CG105), a lint check (CL040), a constraint (stdlib_only) or an audit (instances.unmatched)
    severity: Severity
    message: str
    path: str | None = None  # relative to the task folder (or the implementation folder), posix
    line: int | None = None
    fixable: bool = False  # `concgrade check --fix` can repair it
    fixed: bool = False  # and did

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
