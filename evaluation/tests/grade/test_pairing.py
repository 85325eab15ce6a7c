"""Node ids of runs that select their tests by file or `-k`, paired across runs (pure)."""

from __future__ import annotations

from concgrade.grade.outcomes import RunObservation, TestObservation
from concgrade.grade.pairing import align_parametrized, canonical_run
from concgrade.task.toggle import Toggle

KEYWORDS = Toggle(kind="selection", selection={"before": ["-k", "before"], "after": ["-k", "after"]})


def observed(name, outcomes):
    tests = {nodeid: TestObservation(nodeid, outcome) for nodeid, outcome in outcomes.items()}
    return RunObservation(name, name, 0, False, 1.0, True, True, list(outcomes), [], tests, [], [], [], {}, "", "")


def test_cases_selected_one_each_by_k_are_paired_by_position():
    before = canonical_run(observed("before", {"t.py::test_gen[before-False]": "failed"}), KEYWORDS)
    after = canonical_run(observed("after", {"t.py::test_gen[after-True]": "passed"}), KEYWORDS)
    aligned = align_parametrized([before, after], KEYWORDS)
    assert [run.collected for run in aligned] == [["t.py::test_gen[{impl}-True]"], ["t.py::test_gen[{impl}-True]"]]
    assert aligned[0].tests["t.py::test_gen[{impl}-True]"].outcome == "failed"


def test_ids_that_already_pair_and_other_toggles_are_left_alone():
    before = canonical_run(observed("before", {"t.py::test_x[before]": "failed"}), KEYWORDS)
    after = canonical_run(observed("after", {"t.py::test_x[after]": "passed"}), KEYWORDS)
    assert align_parametrized([before, after], KEYWORDS) == [before, after]
    plain = [observed("before", {"t.py::test_x[1]": "failed"}), observed("after", {"t.py::test_x[2]": "passed"})]
    assert align_parametrized(plain, Toggle()) == plain
