"""JUnit XML: parses with standard readers, one testcase per (test, implementation), expectations respected."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import junitparser
from reportfixtures import synthetic_results

from concgrade.report.junit import render_junit

# Attributes the Jenkins JUnit schema allows on each element we write.
ALLOWED = {
    "testsuites": {"name", "time", "tests", "failures", "disabled", "errors"},
    "testsuite": {"name", "tests", "failures", "errors", "time", "disabled", "skipped", "timestamp", "hostname", "id"},
    "testcase": {"name", "assertions", "time", "classname", "status"},
    "property": {"name", "value"},
    "failure": {"message", "type"},
    "error": {"message", "type"},
    "skipped": {"message"},
}


def cases(root: ET.Element, suite: str) -> dict[str, ET.Element]:
    element = next(s for s in root.iter("testsuite") if s.get("name").endswith("." + suite))
    return {f"{c.get('classname')}::{c.get('name')}": c for c in element.iter("testcase")}


def test_the_rich_grade_junit_parses_and_reports_only_the_task_failures(rich_grade):
    path = rich_grade.out / "junit.xml"
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    for element in root.iter():
        assert set(element.attrib) <= ALLOWED.get(element.tag, set()), element.tag
    before = cases(root, "before")
    assert len(before) == 6  # one testcase per test on each implementation
    f2p_on_before = before["before.tests.test_f2p::test_runs_concurrently"]
    assert f2p_on_before.find("failure") is None and f2p_on_before.find("error") is None
    assert "expected to fail, and it did" in f2p_on_before.find("system-out").text
    after = cases(root, "after")
    assert after["after.tests.test_p2p::test_doubles_in_order"].find("failure") is not None
    timeout = after["after.tests.test_p2p::test_slow_is_quick"].find("error")
    assert timeout is not None and timeout.get("type") == "timeout"
    printed = after["after.tests.test_p2p::test_prints_markup"].find("system-out").text
    assert '<b>printed & "quoted"</b>' in printed and "\\x1b[31m" in printed  # control character made legal
    checks = cases(root, "checks")
    failed_checks = sorted(name.split("::")[1] for name, case in checks.items() if case.find("failure") is not None)
    assert failed_checks == ["f2p.passes_on_candidate", "p2p.passes_on_after"]
    assert root.get("failures") == "4" and root.get("errors") == "1"  # 2 tests + 2 checks; the timeout

    # A JUnit library reads the same counts.
    xml = junitparser.JUnitXml.fromfile(str(path))
    counts = {suite.name.rsplit(".", 1)[1]: (suite.tests, suite.failures, suite.errors) for suite in xml}
    checks_total = len(rich_grade.data["checks"])
    assert counts == {"before": (6, 0, 0), "after": (6, 1, 1), "candidate": (6, 1, 0), "checks": (checks_total, 2, 0)}


def test_a_fail_to_pass_test_passing_on_before_is_a_failure_of_the_task():
    results = synthetic_results(2)
    f2p = next(t for t in results.implementations["before"].tests if t.suite == "FAIL_TO_PASS")
    f2p.outcome, f2p.passed, f2p.message = "passed", True, ""
    root = ET.fromstring(render_junit(results))
    failure = cases(root, "before")["before.tests.test_f2p::test_0"].find("failure")
    assert failure is not None and failure.get("type") == "unexpected-pass"
    assert "must fail" in failure.get("message")
