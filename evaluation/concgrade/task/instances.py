"""SWE-bench style `instances/*.json` (FAIL_TO_PASS / PASS_TO_PASS): read leniently, audit against the runs.

Instance files in the wild name tests as full node ids, bare test names or paths relative to `tests/`,
and are sometimes missing, empty, not JSON, or wrong. None of that stops a grade: the suites are then
inferred from the runs, and the disagreement is reported as findings with the corrected lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from concgrade.grade.checks import F2P, P2P, entry_matches

SUITES = (P2P, F2P)
NAMES_SHOWN = 5


@dataclass(frozen=True)
class InstanceFile:
    """An instances file as read: its suites when usable, else why not."""

    path: str | None  # relative to the task folder
    status: str  # "valid", "missing", "empty" or "invalid"
    suites: dict[str, list[str]] = field(default_factory=lambda: {name: [] for name in SUITES})
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.status == "valid"


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
    if sep or path.endswith(".py"):
        if not path.startswith("tests/"):
            path = "tests/" + path
        return path + sep + rest
    return entry  # a bare test name: matched by name against the collected node ids


def corrected_suites(before: Mapping[str, bool], after: Mapping[str, bool]) -> dict[str, list[str]]:
    """The suites the runs show: passes on both → PASS_TO_PASS; fails on before, passes on after → FAIL_TO_PASS."""
    collected = list(dict.fromkeys([*before, *after]))
    return {
        P2P: [n for n in collected if before.get(n) and after.get(n)],
        F2P: [n for n in collected if not before.get(n) and after.get(n)],
        "failing_on_after": [n for n in collected if not after.get(n)],
    }


def audit_instances(
    instances: InstanceFile | None, before: Mapping[str, bool] | None, after: Mapping[str, bool] | None
) -> dict[str, Any] | None:
    """Compare an instances file with the outcomes of the before and after runs (nodeid → passed).

    Returns the `instances` section of results.json: status, the declared and corrected lists, and
    findings (`id`, `severity`, `message`, `path`) saying where they disagree.
    """
    if instances is None:
        return None
    section: dict[str, Any] = {
        "file": instances.path,
        "status": instances.status,
        "declared": instances.suites,
        "graded_with": "declared" if instances.usable else "inferred",
        "corrected": None,
        "findings": [],
    }
    findings: list[dict[str, Any]] = section["findings"]
    if not instances.usable:
        severity = "info" if instances.status == "missing" else "error"
        message = f"{instances.problem}: the suites are inferred from the before and after runs"
        findings.append(_finding(f"instances.{instances.status}", severity, message, instances.path))
    if before is None or after is None:
        return section  # a run did not start: nothing to audit against
    corrected = corrected_suites(before, after)
    section["corrected"] = corrected
    if instances.usable:
        findings += disagreements(instances, corrected, [*before, *after])
        if findings:
            section["status"] = "contradicted"
    return section


def disagreements(instances: InstanceFile, corrected: dict[str, list[str]], collected: Iterable[str]) -> list[dict]:
    """Findings where the declared lists and the observed outcomes disagree."""
    collected = list(dict.fromkeys(collected))
    path = instances.path
    findings = []
    for suite in SUITES:
        unmatched = [e for e in instances.suites[suite] if not any(entry_matches(e, n) for n in collected)]
        if unmatched:
            message = f"{suite} entries that match no collected test: {_names(unmatched)}"
            findings.append(_finding("instances.unmatched", "error", message, path))
    declared = {suite: _matching(instances.suites[suite], collected) for suite in SUITES}
    wrong = {
        "instances.f2p_passes_on_before": (declared[F2P], corrected[P2P], "FAIL_TO_PASS tests already pass on before"),
        "instances.p2p_fails_on_before": (declared[P2P], corrected[F2P], "PASS_TO_PASS tests fail on before"),
        "instances.fails_on_after": (
            declared[F2P] + declared[P2P],
            corrected["failing_on_after"],
            "listed tests fail on after",
        ),
    }
    for finding_id, (listed, observed, text) in wrong.items():
        both = [n for n in listed if n in observed]
        if both:
            findings.append(_finding(finding_id, "error", f"{len(both)} {text}: {_names(both)}", path))
    unlisted = [n for n in corrected[F2P] if n not in declared[F2P] and n not in declared[P2P]]
    if unlisted:
        message = f"{len(unlisted)} tests fail on before and pass on after but are not in FAIL_TO_PASS: "
        findings.append(_finding("instances.f2p_incomplete", "warning", message + _names(unlisted), path))
    return findings


def _matching(entries: list[str], collected: list[str]) -> list[str]:
    return [n for n in collected if any(entry_matches(e, n) for e in entries)]


def _finding(finding_id: str, severity: str, message: str, path: str | None) -> dict[str, Any]:
    return {"id": finding_id, "severity": severity, "message": message, "path": path}


def _names(items: list[str]) -> str:
    shown = ", ".join(items[:NAMES_SHOWN])
    return shown + (f" and {len(items) - NAMES_SHOWN} more" if len(items) > NAMES_SHOWN else "")


# Found only by running the tests; what a static look shows (not JSON, no lists) the task linter reports.
RUNTIME_FINDINGS = (
    "instances.f2p_passes_on_before",
    "instances.p2p_fails_on_before",
    "instances.fails_on_after",
    "instances.f2p_incomplete",
)


def runtime_lint_findings(section: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The audit's disagreements in the task linter's finding shape, to list them with the lint findings."""
    if not section:
        return []
    return [
        {**finding, "line": None, "fixable": False, "fixed": False}
        for finding in section["findings"]
        if finding["id"] in RUNTIME_FINDINGS
    ]
