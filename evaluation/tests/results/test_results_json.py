"""results.json: its published JSON Schema, its reference page, and the common template's fields."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO, SCHEMA, validate_results
from reportfixtures import RICH_COUNTS
from taskfactory import make_task

from concgrade.results.model import ImplementationResult, Results, TestResult

DOC = REPO / "docs" / "results.md"


def schema() -> dict:
    return json.loads(SCHEMA.read_text(encoding="utf-8"))


def test_the_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_the_rich_grade_validates(rich_grade):
    validate_results(rich_grade.data)
    assert set(rich_grade.data["results"]) == {"before", "after", "candidate"}


def test_the_schema_rejects_what_readers_could_not_trust(rich_grade):
    broken = json.loads(json.dumps(rich_grade.data))
    broken["exit_code"] = 0  # a rejected grade that would exit 0
    with pytest.raises(AssertionError, match="exit_code"):
        validate_results(broken)
    broken = json.loads(json.dumps(rich_grade.data))
    broken["results"]["after"]["tests"][0]["outcome"] = "timeout"  # not one of the template's four outcomes
    with pytest.raises(AssertionError, match="outcome"):
        validate_results(broken)
    broken = json.loads(json.dumps(rich_grade.data))
    del broken["comparison"]
    with pytest.raises(AssertionError, match="comparison"):
        validate_results(broken)


def fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def test_every_field_written_is_in_the_schema_and_documented(rich_grade):
    """A field added to the model without a schema entry and a line in docs/results.md fails here."""
    data, definitions, doc = rich_grade.data, schema()["$defs"], DOC.read_text(encoding="utf-8")
    groups = {
        "top level": (set(data), schema()["properties"]),
        "implementations.*": (set(fields(ImplementationResult)), definitions["implementation"]["properties"]),
        "implementations.*.tests[]": (set(fields(TestResult)), definitions["test"]["properties"]),
        "results.*": (set(data["results"]["after"]), definitions["templateResult"]["properties"]),
        "results.*.tests[]": (
            set(data["results"]["after"]["tests"][0]),
            definitions["templateResult"]["properties"]["tests"]["items"]["properties"],
        ),
        "comparison": (set(data["comparison"]), definitions["comparison"]["properties"]),
        "environment": (set(data["environment"]), definitions["environment"]["properties"]),
        "task": (set(data["task"]), definitions["task"]["properties"]),
        "diffs[]": (set(data["diffs"][0]), definitions["diff"]["properties"]),
        "trajectory[]": (set(data["trajectory"][0]), definitions["trajectoryFile"]["properties"]),
    }
    for where, (written, declared) in groups.items():
        assert written <= set(declared), f"{where}: not in the schema: {sorted(written - set(declared))}"
        undocumented = sorted(key for key in written if f"`{key}`" not in doc)
        assert not undocumented, f"{where}: not in docs/results.md: {undocumented}"
    assert set(fields(Results)) - {"tool", "schema_version"} <= set(data)


def test_a_reader_written_only_against_the_template_gets_the_right_counts(rich_grade):
    reader = Path(__file__).parents[1] / "template_reader.py"
    output = subprocess.run(
        [sys.executable, str(reader), str(rich_grade.out / "results.json")], capture_output=True, text=True, check=True
    )
    seen = json.loads(output.stdout)
    assert seen["success"] is False and seen["error"] is None
    for name, expected in RICH_COUNTS.items():
        assert {key: seen[name][key] for key in expected} == expected, name
        assert seen[name]["summary"]["total"] == expected["total"]
        assert seen[name]["summary"]["passed"] == expected["passed"]
        assert seen[name]["summary"]["failed"] == expected["failed"]
    assert seen["before"]["exit_code"] == 1 and seen["after"]["success"] is False
    assert seen["comparison"] == {
        "before_tests_passed": False,
        "after_tests_passed": False,
        "before_passed": RICH_COUNTS["before"]["passed"],
        "after_passed": RICH_COUNTS["after"]["passed"],
    }


def test_a_task_whose_own_ini_stops_pytest_is_rejected_with_the_reason(cli, tmp_path):
    """pytest refusing to start because of the task's own pytest.ini is the task's answer: rejected, reason named."""
    task = make_task(tmp_path / "task", extra={"pytest.ini": "[pytest]\naddopts = --no-such-option\n"})
    result = cli("--task", str(task), "--output", str(tmp_path / "out"))
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())  # validated against the schema by `cli`
    assert data["verdict"] == "rejected" and data["success"] is False and data["error"] is None
    started = next(check for check in data["checks"] if check["id"] == "runs.started")
    assert started["status"] == "fail" and "--no-such-option" in started["message"], started
