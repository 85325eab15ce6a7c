"""`concgrade check [--fix] [--gate] [--json] TASK_DIR`: lint a task folder without running it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from concgrade.cli.options import Parser, add_check_arguments
from concgrade.findings import SEVERITIES, Finding
from concgrade.run.git import ignored_by_git
from concgrade.run.readers import read_json
from concgrade.static.lint.checks import lint_task
from concgrade.task.selection import PLACEHOLDER, tokens_by_role
from concgrade.task.toggle import Toggle

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
SEVERITY_ORDER = {severity: rank for rank, severity in enumerate(SEVERITIES)}


def render_findings(findings: Sequence[Finding]) -> str:
    """Terminal text: one line per finding, most severe first, then a count."""
    lines = []
    for f in sorted(findings, key=lambda f: (f.fixed, SEVERITY_ORDER[f.severity], f.path or "", f.line or 0)):
        where = (f.path or ".") + (f":{f.line}" if f.line else "")
        note = " (fixed)" if f.fixed else " (fixable: --fix)" if f.fixable else ""
        lines.append(f"{f.severity:<7} {f.id}  {where}: {f.message}{note}")
    open_findings = [f for f in findings if not f.fixed]
    counts = {s: sum(f.severity == s for f in open_findings) for s in SEVERITY_ORDER}
    summary = ", ".join(f"{n} {s}{'s' if n != 1 and s != 'info' else ''}" for s, n in counts.items())
    fixed = len(findings) - len(open_findings)
    fixable = sum(f.fixable for f in open_findings)
    extra = (f"; {fixed} fixed" if fixed else "") + (f"; {fixable} fixable with --fix" if fixable else "")
    lines.append(("no findings" if not findings else summary) + extra)
    return "\n".join(lines)


def last_grade_instances(task_dir: Path, results: Path) -> dict[str, Any] | None:
    """The `instances` section of the task's last grade (its corrected lists in the instances file's own ids)."""
    data = read_json(results).data
    if not data or str(data.get("task", {}).get("root")) != str(task_dir.resolve()):
        return None  # no grade, or one of another folder
    section = data.get("instances")
    if not isinstance(section, dict) or not isinstance(section.get("corrected"), dict):
        return None
    toggle = data.get("task", {}).get("toggle") or {}
    words = tokens_by_role(Toggle(**{k: v for k, v in toggle.items() if k in Toggle.__dataclass_fields__}))
    after = next(iter(words.get("after", [])), None)
    corrected = {
        name: [node.replace(PLACEHOLDER, after) if after else node for node in ids]
        for name, ids in section["corrected"].items()
        if isinstance(ids, list)
    }
    return {**section, "corrected": corrected}


def parser(default_task: Path | None = None) -> argparse.ArgumentParser:
    parser = Parser(
        prog="concgrade check",
        description="Lint a task folder before grading it: layout, manifest, suites, and misleading tests.",
        epilog="Exit status: 0 no error-level finding, 1 errors found, 2 bad invocation or no such folder.",
    )
    add_check_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`concgrade check [--fix] [--gate] [--json] TASK_DIR`: 0 no error-level finding, 1 errors, 2 bad invocation."""
    try:
        args = parser().parse_args(sys.argv[1:] if argv is None else list(argv))
    except SystemExit as exc:  # argparse exits 2 on bad flags and 0 on --help: report, don't exit
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    return run(args)


def run(args: argparse.Namespace) -> int:
    if not args.task_dir.is_dir():
        print(f"concgrade check: error: {args.task_dir}: no such folder", file=sys.stderr)
        return EXIT_USAGE
    observed = last_grade_instances(args.task_dir, args.results or args.task_dir / "reports" / "results.json")
    findings = lint_task(
        args.task_dir,
        fix=args.fix,
        reports_ignored=ignored_by_git(args.task_dir, "reports"),
        gate=args.gate,
        observed=observed,
    )
    if args.json:
        document = {"task": str(args.task_dir.resolve()), "findings": [f.to_dict() for f in findings]}
        print(json.dumps(document, indent=2))
    else:
        print(render_findings(findings))
    return EXIT_ERRORS if any(f.severity == "error" and not f.fixed for f in findings) else EXIT_OK
