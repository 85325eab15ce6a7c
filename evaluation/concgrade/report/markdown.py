"""The Markdown summary of a grade: short enough for a pull-request comment or a CI job summary."""

from __future__ import annotations

import shlex

from concgrade.report.view import matrix_rows, summary_rows
from concgrade.results.model import Results

VERDICT_ICON = {"accepted": "✅", "rejected": "❌", "error": "⚠️"}
# GitHub cuts a job summary above 1 MiB and a comment above 65,536 characters: stay below the smaller by default.
DEFAULT_LIMIT = 60_000
UNMET_SHOWN = 50


def md_text(text: object) -> str:
    """Plain text made safe inside Markdown (and table cells): no markup, no raw HTML, one line."""
    out = str(text).replace("\r", " ").replace("\n", " ")
    for char in "\\`*_[]<>|#!":
        out = out.replace(char, "\\" + char)
    return out.replace("&", "&amp;")


def md_code(text: object, in_table: bool = False) -> str:
    """An inline code span that no backtick inside it can break out of (nor a pipe out of a table cell)."""
    body = str(text).replace("\n", " ").replace("`", "'")
    if in_table:
        body = body.replace("|", "\\|")  # GitHub splits cells at a pipe even inside a code span
    return f"`{body}`" if body else ""


def render_summary_md(results: Results, limit: int = DEFAULT_LIMIT) -> str:
    """The summary, cut to `limit` characters at most (the list of unmet tests shrinks first)."""
    for shown in (UNMET_SHOWN, 10, 0):
        text = _render(results, shown)
        if len(text) <= limit:
            return text
    note = "\n\n*(summary cut to fit; see results.json)*\n"
    return text[: max(0, limit - len(note))] + note


def _render(results: Results, unmet_shown: int) -> str:
    name = results.task.get("name", "task")
    lines = [
        f"## {VERDICT_ICON.get(results.verdict, '')} concgrade: {md_code(name)} {results.verdict}",
        "",
        f"exit {results.exit_code} · {len(results.implementations)} runs · {results.duration_seconds:.1f} s"
        f" · concgrade {md_text(results.tool.get('version', ''))}",
        "",
    ]
    rows = summary_rows(results)
    if rows:
        suites = [count.suite for count in rows[0].suites]
        lines += [
            "| implementation | role | " + " | ".join(suites) + " | peak active | exit | time |",
            "|---|---|" + "---|" * len(suites) + "---:|---:|---:|",
        ]
        for row in rows:
            cells = [
                f"{c.passed}/{c.total} {'✅' if c.met else '❌'}" + (" (should fail)" if c.expected == "fail" else "")
                for c in row.suites
            ]
            peak = "" if row.peak is None else str(row.peak)
            lines.append(
                f"| {md_text(row.implementation)} | {row.role} | "
                + " | ".join(cells)
                + f" | {peak} | {md_text(row.exit_code)} | {row.duration} |"
            )
        lines.append("")
    failing = [check for check in results.checks if check["status"] != "pass"]
    if failing:
        lines += ["### Failing checks", ""]
        lines += [f"- {md_code(c['id'])} ({c['status']}): {md_text(c['message'])}" for c in failing]
        lines.append("")
    if results.error:
        lines += [f"**Error:** {md_text(results.error)}", ""]
    unmet = [
        (row.nodeid, cell) for row in matrix_rows(results)[0] if row.unmet for cell in row.cells if cell.met is False
    ]
    if unmet and unmet_shown:
        lines += [
            f"<details><summary>Tests whose expectation is not met ({len(unmet)})</summary>",
            "",
            "| test | implementation | should | observed |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {md_code(nodeid, in_table=True)} | {md_text(cell.implementation)} | {cell.expected} | {md_text(cell.outcome)} |"
            for nodeid, cell in unmet[:unmet_shown]
        ]
        if len(unmet) > unmet_shown:
            lines.append(f"| … and {len(unmet) - unmet_shown} more | | | |")
        lines += ["", "</details>", ""]
    elif unmet:
        lines += [f"{len(unmet)} test results do not meet their suite's expectation (see the HTML report).", ""]
    argv = results.reproduce.get("argv")
    if argv:
        command = shlex.join(argv)
        fence = "~~~~" if "```" in command else "```"
        lines += ["Reproduce:", "", fence + "sh", command, fence, ""]
    return "\n".join(lines)
