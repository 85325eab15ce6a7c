"""instances/*.json: lenient reading, id normalization, and the audit against observed outcomes (pure)."""

from __future__ import annotations

import json

from concgrade.grade.instances import audit_instances
from concgrade.task.instances import InstanceFile, normalize_instance_id, read_instances

F2P, P2P = "FAIL_TO_PASS", "PASS_TO_PASS"


def test_ids_are_normalized_to_task_relative_node_ids():
    assert normalize_instance_id("tests/test_a.py::test_x") == "tests/test_a.py::test_x"
    assert normalize_instance_id("test_a.py::TestA::test_x[1]") == "tests/test_a.py::TestA::test_x[1]"
    assert normalize_instance_id("./test_a.py") == "tests/test_a.py"
    assert normalize_instance_id("test_x") == "test_x"


def test_reading_never_raises(tmp_path):
    assert read_instances(tmp_path).status == "missing"
    (tmp_path / "instances").mkdir()
    path = tmp_path / "instances" / "i.json"
    for text, status in [
        ("{", "invalid"),
        ('{"FAIL_TO_PASS": "not a list"}', "invalid"),
        ('{"other": 1}', "invalid"),
        ('{"FAIL_TO_PASS": [], "PASS_TO_PASS": []}', "empty"),
        (json.dumps({F2P: json.dumps(["test_x"]), P2P: ["test_a.py::test_y"]}), "valid"),
    ]:
        path.write_text(text)
        assert read_instances(tmp_path).status == status, text
    assert read_instances(tmp_path).suites == {P2P: ["tests/test_a.py::test_y"], F2P: ["test_x"]}


def test_the_audit_reports_contradictions_and_the_corrected_lists():
    declared = InstanceFile("instances/i.json", "valid", {F2P: ["test_a", "tests/t.py::test_gone"], P2P: ["test_b"]})
    before = {"tests/t.py::test_a": True, "tests/t.py::test_b": False, "tests/t.py::test_c": False}
    after = {"tests/t.py::test_a": True, "tests/t.py::test_b": True, "tests/t.py::test_c": True}
    section = audit_instances(declared, before, after)
    assert section["status"] == "contradicted" and section["graded_with"] == "declared"
    assert [f["id"] for f in section["findings"]] == [
        "instances.unmatched",
        "instances.f2p_passes_on_before",
        "instances.p2p_fails_on_before",
        "instances.f2p_incomplete",
    ]
    assert section["corrected"] == {
        P2P: ["tests/t.py::test_a"],
        F2P: ["tests/t.py::test_b", "tests/t.py::test_c"],
        "failing_on_after": [],
    }


def test_an_unusable_file_is_one_finding_and_inferred_suites():
    section = audit_instances(InstanceFile("instances/i.json", "invalid", problem="invalid JSON"), {}, {})
    assert section["graded_with"] == "inferred"
    assert [(f["id"], f["severity"]) for f in section["findings"]] == [("instances.invalid", "warning")]
    gated = audit_instances(InstanceFile("instances/i.json", "invalid", problem="invalid JSON"), {}, {}, gate=True)
    assert [(f["id"], f["severity"]) for f in gated["findings"]] == [("instances.invalid", "error")]


def test_class_qualified_entries_without_their_file_match_the_tail_of_node_ids():
    from concgrade.task.instances import normalize_instance_id
    from concgrade.task.model import entry_matches

    assert normalize_instance_id("TestReverse::test_single_word") == "TestReverse::test_single_word"
    assert entry_matches("TestReverse::test_single_word", "tests/test_words.py::TestReverse::test_single_word")
    assert entry_matches("TestReverse::test_case", "tests/test_words.py::TestReverse::test_case[1-a]")
    assert not entry_matches("TestReverse::test_single", "tests/test_words.py::TestReverse::test_single_word")
    assert normalize_instance_id("test_words.py::TestReverse::test_x") == "tests/test_words.py::TestReverse::test_x"
