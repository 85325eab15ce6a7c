"""Writes JUnit XML (the Jenkins schema CI systems read): one testcase per (test, implementation), plus the checks.

A testcase passes when the test did what its suite asks of that implementation: a FAIL_TO_PASS test
that fails on before is a met expectation, not a failure of the task; one that passes there is.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET

from concgrade.report.view import UNGRADED, excerpt, expectation
from concgrade.results.model import ImplementationResult, Results, TestResult

# Outcomes that mean the test could not be judged at all: reported as <error>, the rest as <failure>.
ERROR_OUTCOMES = {"error", "timeout", "crashed", "interrupted", "inconsistent"}
TEXT_LIMIT = 20_000
# Characters XML 1.0 cannot carry (control characters, lone surrogates); captured output may hold any of them.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str, limit: int = TEXT_LIMIT) -> str:
    return _ILLEGAL_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", excerpt(text, limit))


def render_junit(results: Results) -> str:
    task = str(results.task.get("name", "task"))
    root = ET.Element("testsuites", name=f"concgrade {task}")
    suites = [implementation_suite(task, name, impl, results) for name, impl in results.implementations.items()]
    suites.append(checks_suite(task, results))
    # The Jenkins schema gives the root no `skipped` count; each testsuite has its own.
    totals = dict.fromkeys(("tests", "failures", "errors"), 0)
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
        root.append(suite)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{results.duration_seconds:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def implementation_suite(task: str, name: str, impl: ImplementationResult, results: Results) -> ET.Element:
    suite_of = {nodeid: suite for suite, ids in results.suites.items() for nodeid in ids}
    suite = new_suite(f"{task}.{name}", results, impl.duration_seconds)
    properties = ET.SubElement(suite, "properties")
    for key, value in (("implementation", name), ("role", impl.role), ("folder", impl.folder)):
        ET.SubElement(properties, "property", name=key, value=xml_text(value, 1000))
    ET.SubElement(properties, "property", name="exit_code", value=str(impl.exit_code))
    for test in impl.tests:
        suite.append(testcase(name, impl.role, suite_of.get(test.nodeid), test))
    count(suite)
    return suite


def new_suite(name: str, results: Results, seconds: float) -> ET.Element:
    return ET.Element(
        "testsuite",
        name=name,
        timestamp=results.started_at,
        hostname=xml_text(socket.gethostname(), 200),
        time=f"{seconds:.3f}",
    )


def testcase(implementation: str, role: str, suite: str | None, test: TestResult) -> ET.Element:
    path, _, name = test.nodeid.partition("::")
    classname = implementation + "." + path.removesuffix(".py").replace("/", ".")
    case = ET.Element("testcase", classname=classname, name=name or path, time=f"{test.duration:.3f}")
    expected = expectation(role, suite)
    observed = f"{test.outcome} on {implementation}"
    if expected is None:
        if not test.passed:
            ET.SubElement(case, "skipped", message=f"{UNGRADED} (in no suite); observed {observed}")
    elif test.passed != (expected == "pass"):
        if expected == "fail":
            message = f"{suite} test passed on {implementation}, where it must fail: it does not show the problem"
            ET.SubElement(case, "failure", message=message, type="unexpected-pass").text = xml_text(test.message)
        else:
            kind = "error" if test.outcome in ERROR_OUTCOMES else "failure"
            message = f"{suite} test must pass on {implementation}; observed {test.outcome}"
            element = ET.SubElement(case, kind, message=message, type=test.outcome)
            element.text = xml_text(test.message)
    notes = []
    if expected == "fail" and not test.passed:
        notes.append(f"[concgrade] {suite} on {implementation}: expected to fail, and it did ({test.outcome}).")
    if test.stdout:
        notes.append(test.stdout)
    if notes:
        ET.SubElement(case, "system-out").text = xml_text("\n".join(notes))
    if test.stderr:
        ET.SubElement(case, "system-err").text = xml_text(test.stderr)
    return case


def checks_suite(task: str, results: Results) -> ET.Element:
    """The grade's checks as testcases, so that task-level failures (wrong import, empty suite) show in CI too."""
    suite = new_suite(f"{task}.checks", results, 0.0)
    for check in results.checks:
        case = ET.SubElement(suite, "testcase", classname="concgrade.checks", name=check["id"], time="0.000")
        if check["status"] == "fail":
            ET.SubElement(case, "failure", message=xml_text(check["message"], 2000), type="check")
        elif check["status"] == "error":
            ET.SubElement(case, "error", message=xml_text(check["message"], 2000), type="check")
    count(suite)
    return suite


def count(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for key, tag in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
        suite.set(key, str(sum(1 for case in cases if case.find(tag) is not None)))
