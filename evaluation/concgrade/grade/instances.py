"""The instances file audited against the runs: where its lists and the observed outcomes disagree (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from concgrade.findings import Finding, Severity
from concgrade.grade.checks import Check, list_names
from concgrade.task.model import F2P, P2P, SUITES, InstanceFile, entry_matches


def corrected_suites(before: Mapping[str, bool], after: Mapping[str, bool]) -> dict[str, list[str]]:
    """The suites the runs show: passes on both → PASS_TO_PASS; fails on before, passes on after → FAIL_TO_PASS."""
    collected = list(dict.fromkeys([*before, *after]))
    return {
        P2P: [n for n in collected if before.get(n) and after.get(n)],
        F2P: [n for n in collected if not before.get(n) and after.get(n)],
        "failing_on_after": [n for n in collected if not after.get(n)],
    }


def audit_instances(
    instances: InstanceFile | None,
    before: Mapping[str, bool] | None,
    after: Mapping[str, bool] | None,
    gate: bool = False,
    graded_with: str | None = None,
) -> dict[str, Any] | None:
    """Compare an instances file with the outcomes of the before and after runs (nodeid → passed).

    Returns the `instances` section of results.json: status, the declared and corrected lists, and
    findings (`id`, `severity`, `message`, `path`) saying where they disagree. Wrong metadata is not a
    wrong task: the plain grade judges what the runs show, so the findings are warnings there, and
    errors under `gate` (a dataset submission must carry correct metadata).
    """
    if instances is None:
        return None
    section: dict[str, Any] = {
        "file": instances.path,
        "status": instances.status,
        "declared": instances.suites,
        "graded_with": graded_with or ("declared" if instances.usable else "inferred"),
        "corrected": None,
        "findings": [],
    }
    findings: list[dict[str, Any]] = section["findings"]
    wrong: Severity = "error" if gate else "warning"
    if not instances.usable:
        severity: Severity = "info" if instances.status == "missing" else wrong
        message = f"{instances.problem}: the suites are inferred from the before and after runs"
        findings.append(_finding(f"instances.{instances.status}", severity, message, instances.path))
    if before is None or after is None:
        return section  # a run did not start: nothing to audit against
    corrected = corrected_suites(before, after)
    section["corrected"] = corrected
    if instances.usable:
        findings += disagreements(instances, corrected, [*before, *after], wrong)
        if findings:
            section["status"] = "contradicted"
    return section


def disagreements(
    instances: InstanceFile, corrected: dict[str, list[str]], collected: Iterable[str], severity: Severity = "warning"
) -> list[dict]:
    """Findings where the declared lists and the observed outcomes disagree."""
    collected = list(dict.fromkeys(collected))
    path = instances.path
    findings = []
    for suite in SUITES:
        unmatched = [e for e in instances.suites[suite] if not any(entry_matches(e, n) for n in collected)]
        if unmatched:
            message = f"{suite} entries that match no collected test: {list_names(unmatched)}"
            findings.append(_finding("instances.unmatched", severity, message, path))
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
            findings.append(_finding(finding_id, severity, f"{len(both)} {text}: {list_names(both)}", path))
    unlisted = [n for n in corrected[F2P] if n not in declared[F2P] and n not in declared[P2P]]
    if unlisted:
        message = f"{len(unlisted)} tests fail on before and pass on after but are not in FAIL_TO_PASS: "
        findings.append(_finding("instances.f2p_incomplete", severity, message + list_names(unlisted), path))
    return findings


def _matching(entries: list[str], collected: list[str]) -> list[str]:
    return [n for n in collected if any(entry_matches(e, n) for e in entries)]


def _finding(finding_id: str, severity: Severity, message: str, path: str | None) -> dict[str, Any]:
    return Finding(finding_id, severity, message, path).to_dict()


# Found only by running the tests; what a static look shows (not JSON, no lists) the task linter reports.
RUNTIME_FINDINGS = (
    "instances.unmatched",
    "instances.f2p_passes_on_before",
    "instances.p2p_fails_on_before",
    "instances.fails_on_after",
    "instances.f2p_incomplete",
)


def runtime_lint_findings(section: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The audit's disagreements in the task linter's finding shape, to list them with the lint findings."""
    if not section:
        return []
    return [finding for finding in section["findings"] if finding["id"] in RUNTIME_FINDINGS]


def check_instances(section: dict[str, Any] | None) -> Check | None:
    """`instances.correct`: the instances file says what the runs show (an error-level finding fails it: the gate)."""
    if not section or section["status"] == "missing":
        return None
    findings = section["findings"]
    errors = [f for f in findings if f["severity"] == "error"]
    if errors:
        listed = list_names([f"{f['id']}: {f['message']}" for f in errors])
        return Check("instances.correct", "fail", f"{section['file']} is wrong: {listed}")
    if findings:
        message = f"{section['file']}: {len(findings)} finding(s), graded by what the runs show (errors under --gate)"
        return Check("instances.correct", "pass", message)
    return Check("instances.correct", "pass", f"{section['file']} agrees with the runs")
