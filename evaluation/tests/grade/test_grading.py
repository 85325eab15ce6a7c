"""Grading: ordered checks and verdicts from hand-built observations."""

from __future__ import annotations

from concgrade.grade.checks import assign_suites
from concgrade.grade.grading import grade_runs
from concgrade.grade.outcomes import ImportProof, RunObservation, TestObservation
from concgrade.task.model import F2P, P2P, entry_matches

ENTRIES = {P2P: ["tests/test_p2p.py"], F2P: ["tests/test_f2p.py"]}
P2P_IDS = ["tests/test_p2p.py::test_a", "tests/test_p2p.py::test_b"]
F2P_IDS = ["tests/test_f2p.py::test_c"]


def run(name, outcomes, role=None, imports=True, problems=(), started=True):
    tests = {nodeid: TestObservation(nodeid, outcome) for nodeid, outcome in outcomes.items()}
    proofs = [ImportProof("m", f"/x/{name}/m.py", "h", True, True)] if imports else []
    return RunObservation(
        name=name,
        role=role or ("before" if name == "before" else "after"),
        exit_code=0,
        timed_out=False,
        duration=1.0,
        started=started,
        finished=True,
        collected=list(outcomes) if started else [],
        collect_errors=[],
        tests=tests,
        imports=proofs,
        problems=list(problems),
        command=[],
        toggle_env={},
        stdout_tail="",
        stderr_tail="",
    )


def outcomes(p2p="passed", f2p="failed"):
    return {**{n: p2p for n in P2P_IDS}, **{n: f2p for n in F2P_IDS}}


def good_runs():
    return [run("before", outcomes(f2p="failed")), run("after", outcomes(f2p="passed"))]


def failing_ids(grade):
    return [check.id for check in grade.checks if check.status != "pass"]


def test_a_good_task_is_accepted():
    grade = grade_runs(ENTRIES, good_runs())
    assert grade.verdict == "accepted" and grade.exit_code == 0
    assert failing_ids(grade) == []
    assert grade.suites == {P2P: P2P_IDS, F2P: F2P_IDS}


def test_f2p_passing_on_before_is_rejected_with_the_test_named():
    grade = grade_runs(ENTRIES, [run("before", outcomes(f2p="passed")), run("after", outcomes(f2p="passed"))])
    assert grade.verdict == "rejected" and grade.exit_code == 1
    assert failing_ids(grade) == ["f2p.fails_on_before"]
    check = grade.failing[0]
    assert "tests/test_f2p.py::test_c" in check.message and check.tests == tuple(F2P_IDS)


def test_p2p_broken_on_after_is_rejected():
    grade = grade_runs(ENTRIES, [run("before", outcomes()), run("after", outcomes(p2p="failed", f2p="passed"))])
    assert failing_ids(grade) == ["p2p.passes_on_after"]


def test_candidate_is_graded_like_after():
    runs = [*good_runs(), run("candidate", outcomes(f2p="failed"), role="after")]
    grade = grade_runs(ENTRIES, runs)
    assert failing_ids(grade) == ["f2p.passes_on_candidate"]


def test_never_a_pass(tmp_path):
    for outcome in ("skipped", "error", "interrupted", "crashed", "timeout", "missing", "inconsistent", "xpassed"):
        grade = grade_runs(ENTRIES, [run("before", outcomes()), run("after", outcomes(f2p=outcome))])
        assert grade.verdict == "rejected", outcome
        assert f"({outcome})" in grade.failing[0].message


def test_a_missing_test_on_after_is_not_a_pass():
    after = outcomes(f2p="passed")
    del after[F2P_IDS[0]]
    grade = grade_runs(ENTRIES, [run("before", outcomes()), run("after", after)])
    assert "f2p.passes_on_after" in failing_ids(grade)


def test_empty_f2p_is_rejected():
    entries = {P2P: ["tests/test_p2p.py"], F2P: []}
    runs = [run("before", {n: "passed" for n in P2P_IDS}), run("after", {n: "passed" for n in P2P_IDS})]
    assert failing_ids(grade_runs(entries, runs)) == ["suites.f2p_nonempty"]


def test_suite_entry_matching_no_test_is_named():
    entries = {**ENTRIES, F2P: ["tests/test_f2p.py", "tests/test_f2p.py::test_gone"]}
    grade = grade_runs(entries, good_runs())
    assert failing_ids(grade) == ["suites.ran"]
    assert "test_gone" in grade.failing[0].message


def test_wrong_implementation_is_rejected():
    after = run("after", outcomes(f2p="passed"))
    after.imports = [ImportProof("m", "/x/before/m.py", "h", False, False)]
    grade = grade_runs(ENTRIES, [run("before", outcomes()), after])
    assert failing_ids(grade) == ["implementation.proved.after"]


def test_never_importing_the_implementation_is_rejected():
    grade = grade_runs(ENTRIES, [run("before", outcomes()), run("after", outcomes(f2p="passed"), imports=False)])
    assert failing_ids(grade) == ["implementation.proved.after"]


def test_a_run_that_did_not_start_is_an_error():
    grade = grade_runs(ENTRIES, [run("before", outcomes()), run("after", {}, started=False)])
    assert grade.verdict == "error" and grade.exit_code == 2


def test_channel_problems_reject():
    grade = grade_runs(ENTRIES, [run("before", outcomes()), run("after", outcomes(f2p="passed"), problems=["x"])])
    assert failing_ids(grade) == ["runs.consistent"]


def test_inferred_suites_come_from_before():
    runs = good_runs()
    grade = grade_runs({P2P: [], F2P: []}, runs, inferred=True)
    assert grade.suites == {P2P: P2P_IDS, F2P: F2P_IDS} and grade.verdict == "accepted"


def test_inferred_suites_still_reject_a_test_failing_on_after():
    runs = [run("before", outcomes()), run("after", outcomes(p2p="failed", f2p="passed"))]
    assert grade_runs({P2P: [], F2P: []}, runs, inferred=True).verdict == "rejected"


def test_entry_matching():
    assert entry_matches("tests/t.py", "tests/t.py::test_x")
    assert entry_matches("tests/t.py::TestA", "tests/t.py::TestA::test_x")
    assert entry_matches("tests/t.py::test_x", "tests/t.py::test_x[1]")
    assert entry_matches("test_x", "tests/t.py::test_x[1]")
    assert not entry_matches("tests/t.py::test_x", "tests/t.py::test_xy")
    assert not entry_matches("tests/t", "tests/t.py::test_x")


def test_a_test_in_both_suites_counts_as_f2p():
    both = {P2P: ["tests/t.py"], F2P: ["tests/t.py::test_a"]}
    assert assign_suites(both, ["tests/t.py::test_a", "tests/t.py::test_b"]) == {
        P2P: ["tests/t.py::test_b"],
        F2P: ["tests/t.py::test_a"],
    }


# --- before modes, inference from what before shows, the import proof from what each run read -------------

from concgrade.grade.outcomes import FileLoad  # noqa: E402


def reading(observation, *loads):
    """The run, having read these (folder, file) pairs and proved no toggled module by name."""
    observation.imports = []
    observation.loads = [FileLoad(file, folder, "test", "h", folder == "own") for folder, file in loads]
    return observation


def proof(grade, name):
    return next(check for check in grade.checks if check.id == f"implementation.proved.{name}")


def test_a_greenfield_before_that_collects_nothing_is_every_test_failing_and_nothing_to_import():
    before = reading(run("before", {}))
    before.collected, before.collect_errors = (
        [],
        [{"nodeid": "tests/test_f2p.py", "message": "E   ModuleNotFoundError"}],
    )
    after = reading(run("after", outcomes(f2p="passed")), ("own", "m.py"))
    grade = grade_runs({P2P: [], F2P: []}, [before, after], inferred=True, greenfield=True)
    assert grade.verdict == "accepted" and grade.before == "nothing to import"
    assert grade.suites[F2P] == [*P2P_IDS, *F2P_IDS] and grade.suites[P2P] == []
    assert "before has no code" in proof(grade, "before").message
    assert "collection error" in next(c for c in grade.checks if c.id == "f2p.fails_on_before").message


def test_nothing_selecting_before_and_tests_reading_only_after_count_before_as_failing():
    before = reading(run("before", outcomes(f2p="passed")), ("other", "m.py"))
    after = reading(run("after", outcomes(f2p="passed")), ("own", "m.py"))
    grade = grade_runs({P2P: [], F2P: []}, [before, after], inferred=True, toggle_default=True)
    assert grade.verdict == "accepted" and grade.before == "not selectable"
    assert len(grade.suites[F2P]) == 3
    # The same runs when the task does document how to select before: the before run is real, and wrong.
    documented = grade_runs({P2P: [], F2P: []}, [before, after], inferred=True)
    assert documented.verdict == "rejected" and proof(documented, "before").status == "fail"


def test_reading_the_other_implementation_as_well_is_recorded_not_held_against_a_run():
    before = reading(run("before", outcomes()), ("own", "m.py"), ("other", "m.py"))
    after = reading(run("after", outcomes(f2p="passed")), ("own", "m.py"), ("other", "m.py"))
    grade = grade_runs(ENTRIES, [before, after])
    assert grade.verdict == "accepted"
    assert "also read another implementation on purpose" in proof(grade, "before").message


def test_a_toggled_module_from_the_other_folder_fails_the_proof_even_beside_own_files():
    before = reading(run("before", outcomes()), ("own", "m.py"))
    before.imports = [ImportProof("m", "/x/after/m.py", "h", False, False)]
    grade = grade_runs(ENTRIES, [before, run("after", outcomes(f2p="passed"))])
    assert "imported the wrong implementation" in proof(grade, "before").message


def test_after_that_read_nothing_of_its_own_fails_and_before_that_passed_nothing_is_not_judged():
    before = reading(run("before", {n: "failed" for n in [*P2P_IDS, *F2P_IDS]}), ("other", "m.py"))
    after = reading(run("after", outcomes(f2p="passed")))
    grade = grade_runs({P2P: [], F2P: []}, [before, after], inferred=True)
    assert proof(grade, "before").status == "pass" and "no test passed there" in proof(grade, "before").message
    assert proof(grade, "after").status == "fail"


def test_skipped_xfailed_and_xpassed_on_before_are_never_inferred_as_fail_to_pass():
    before = run("before", {P2P_IDS[0]: "passed", P2P_IDS[1]: "xfailed", F2P_IDS[0]: "skipped"})
    after = run("after", {P2P_IDS[0]: "passed", P2P_IDS[1]: "passed", F2P_IDS[0]: "passed"})
    grade = grade_runs({P2P: [], F2P: []}, [before, after], inferred=True)
    assert grade.suites[F2P] == [] and grade.verdict == "rejected"
    assert "suites.f2p_nonempty" in failing_ids(grade)
    failing_after = run("after", {P2P_IDS[0]: "passed", P2P_IDS[1]: "passed", F2P_IDS[0]: "failed"})
    assert grade_runs({P2P: [], F2P: []}, [before, failing_after], inferred=True).suites[F2P] == F2P_IDS


def test_an_xfail_on_before_meets_a_declared_fail_to_pass_and_an_xpass_does_not():
    xfail = grade_runs(ENTRIES, [run("before", outcomes(f2p="xfailed")), run("after", outcomes(f2p="passed"))])
    assert xfail.verdict == "accepted"
    xpass = grade_runs(ENTRIES, [run("before", outcomes(f2p="xpassed")), run("after", outcomes(f2p="passed"))])
    assert failing_ids(xpass) == ["f2p.fails_on_before"]


def test_a_task_whose_own_files_stop_pytest_rejects_on_after_and_fails_before():
    def stopped(name):
        observation = run(name, {}, started=False)
        observation.exit_code, observation.booted, observation.task_copy = 1, True, "/s/task"
        observation.stderr_tail = "pluggy.PluginValidationError: Plugin '/s/task/conftest.py': startdir not in hookspec"
        return observation

    both_stopped = grade_runs({P2P: [], F2P: []}, [stopped("before"), stopped("after")], inferred=True)
    started = next(c for c in both_stopped.checks if c.id == "runs.started")
    assert both_stopped.verdict == "rejected" and started.status == "fail" and "startdir" in started.message
    assert "/s/task" not in started.message  # the task's own path, without the scratch folder
    harness = stopped("after")
    harness.stderr_tail = "error: unrecognized arguments: --json-report --json-report-file"
    assert grade_runs(ENTRIES, [run("before", outcomes()), harness]).verdict == "error"


def test_tests_only_afters_documented_command_runs_are_fail_to_pass_only_where_befores_own_tests_fail():
    baseline = {"tests/test_baseline.py::test_legacy_lacks_a_pool": "xfailed"}
    after_only = {
        **{n: "passed" for n in P2P_IDS + F2P_IDS},
        "tests/test_baseline.py::test_legacy_lacks_a_pool": "xfailed",
    }
    before, after = run("before", baseline), run("after", after_only)
    grade = grade_runs({P2P: [], F2P: []}, [before, after], inferred=True, before_runs_other_tests=True)
    assert grade.suites == {P2P: list(baseline), F2P: []} and grade.verdict == "rejected"
    (empty,) = [check for check in grade.checks if check.id == "suites.f2p_nonempty"]
    assert empty.status == "fail" and "all of those pass or xfail on before" in empty.message
    # the same runs where before's own tests fail there: the tests it never ran are FAIL_TO_PASS
    failing = run("before", {"tests/test_baseline.py::test_legacy_lacks_a_pool": "failed"})
    shown = grade_runs({P2P: [], F2P: []}, [failing, after], inferred=True, before_runs_other_tests=True)
    assert set(shown.suites[F2P]) == {*P2P_IDS, *F2P_IDS, *baseline} and shown.verdict == "accepted"
    # a test only before's command runs (its own baseline file) is judged on neither side
    own_only = run("after", {n: "passed" for n in P2P_IDS + F2P_IDS})
    split = grade_runs({P2P: [], F2P: []}, [failing, own_only], inferred=True, before_runs_other_tests=True)
    assert split.suites == {P2P: [], F2P: [*P2P_IDS, *F2P_IDS]} and split.verdict == "accepted"
    # and where both commands run the same tests, a test absent on before failed there, as ever
    same = grade_runs({P2P: [], F2P: []}, [before, after], inferred=True)
    assert set(same.suites[F2P]) == set(P2P_IDS + F2P_IDS)
