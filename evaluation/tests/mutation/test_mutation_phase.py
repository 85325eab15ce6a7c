"""The mutation phase's decisions, without runs: the mutant timeout, how a run judges a mutant, the kill order,
when the phase runs, and what the cache key holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from taskfactory import make_task

from concgrade.errors import TaskError
from concgrade.grade.outcomes import ImportProof, RunObservation, TestObservation
from concgrade.mutation import cache
from concgrade.mutation.phase import (
    Analysis,
    MutantRun,
    judged_run,
    mutant_run_timeout,
    mutant_test_timeout,
    mutants_policy,
    requested_by,
    why_not_judged,
)
from concgrade.task.load import load_task

A, B, C = "tests/test_p2p.py::test_a", "tests/test_f2p.py::test_b", "tests/test_f2p.py::test_c"


def observed(outcomes, durations=None, imports=None, collect_errors=(), started=True):
    tests = {
        nodeid: TestObservation(nodeid, outcome, (durations or {}).get(nodeid, 0.01))
        for nodeid, outcome in outcomes.items()
    }
    return RunObservation(
        name="mutant",
        role="after",
        exit_code=1,
        timed_out=False,
        duration=1.0,
        started=started,
        finished=True,
        collected=list(outcomes),
        collect_errors=list(collect_errors),
        tests=tests,
        imports=imports if imports is not None else [ImportProof("m", "/s/after/m.py", "h", True, True)],
        problems=[],
        command=[],
        toggle_env={},
        stdout_tail="",
        stderr_tail="boom: cannot start",
    )


def test_the_mutant_timeout_is_three_times_the_slowest_after_test_rounded_up_to_a_step():
    after = observed({A: "passed", B: "passed"}, {A: 0.05, B: 1.03})
    assert mutant_test_timeout(after, [A, B], 10.0)[0] == 5.0  # 3.09 s -> 5 s
    assert mutant_test_timeout(after, [A], 10.0)[0] == 2.0  # the floor
    slow = observed({A: "passed"}, {A: 4.0})
    assert mutant_test_timeout(slow, [A], 10.0)[0] == 10.0  # 12 s is past the task's own timeout
    assert mutant_test_timeout(slow, [A], 60.0)[0] == 20.0
    assert "1.03 s" in mutant_test_timeout(after, [A, B], 10.0)[1]


def test_a_run_judges_its_mutant_by_the_tests_that_ran_in_their_order():
    run = judged_run(observed({C: "passed", B: "timeout", A: "missing"}), [A, B, C])
    assert list(run.outcomes.items()) == [(C, True), (B, False), (A, None)]
    assert run.tests == {C: "passed", B: "timeout"} and run.error is None


def test_a_mutant_that_breaks_collection_fails_every_suite_test():
    run = judged_run(observed({}, collect_errors=[{"nodeid": "tests/test_f2p.py", "message": "ImportError"}]), [A, B])
    assert run.outcomes == {A: False, B: False}


def test_a_mutant_whose_run_never_starts_or_hangs_before_any_test_fails_every_suite_test():
    # The after's run started in the same setup, so it is the mutant that stops this one.
    dead = judged_run(observed({}, started=False), [A, B])
    assert dead.outcomes == {A: False, B: False} and dead.error is None
    assert dead.note == "the run did not start: boom: cannot start"
    hung = observed({}, started=False)
    hung.timed_out = True
    assert judged_run(hung, [A]).tests == {A: "timeout"} and "hung before any test ran" in judged_run(hung, [A]).note


def test_a_run_that_imported_other_code_says_nothing_about_the_mutant():
    elsewhere = [ImportProof("m", "/s/after/m.py", "h", True, False)]
    assert "did not import the mutant" in judged_run(observed({A: "passed"}, imports=elsewhere), [A]).error


def test_mutants_are_judged_only_against_an_after_that_passes_its_own_suites():
    assert why_not_judged(observed({A: "passed", B: "passed"}), [A, B]) is None
    assert "does not pass its own suites (1 tests: " in why_not_judged(observed({A: "passed", B: "failed"}), [A, B])
    assert why_not_judged(observed({A: "passed"}), []) == "no suite test was collected on the after"


def test_tests_run_in_kill_order_as_kills_come_in(tmp_path):
    analysis = Analysis(
        task=None,  # type: ignore[arg-type]
        suite_ids=[A, B, C],
        base_order=[A, B, C],
        test_timeout=2,
        run_timeout=10,
        first_failure=True,
        sandbox=None,  # type: ignore[arg-type]
        jobs=1,
        cache_folder=None,
        context={},
        progress=None,
        kills=dict.fromkeys([A, B, C], 0),
    )
    assert analysis.order() == [A, B, C]
    analysis.count_kill(MutantRun({A: True, C: False, B: None}, {}))
    analysis.count_kill(MutantRun({C: False}, {}))
    analysis.count_kill(MutantRun({B: False}, {}))
    assert analysis.order() == [C, B, A]


def test_the_phase_runs_when_asked_or_in_the_gate_where_the_task_declares_mutants(tmp_path):
    plain = load_task(make_task(tmp_path / "plain"))
    declared = make_task(tmp_path / "declared")
    manifest = declared / "evaluation" / "concgrade.toml"
    manifest.write_text(manifest.read_text() + '\n[mutants]\nrequired = ["CM103"]\n')
    task = load_task(declared)
    assert [requested_by(mode, plain) for mode in ("on", "auto", "off")] == ["flag", None, None]
    assert [requested_by(mode, task) for mode in ("on", "auto", "off")] == ["flag", "manifest", None]
    assert mutants_policy(task).required == ("CM103-single-worker",)


def test_a_bad_mutants_table_names_the_file_and_the_key(tmp_path):
    root = make_task(tmp_path / "bad")
    manifest = root / "evaluation" / "concgrade.toml"
    manifest.write_text(manifest.read_text() + '\n[mutants]\nrequired = ["CM999"]\n')
    with pytest.raises(TaskError, match=r"concgrade.toml: mutants.required names an unknown operator 'CM999'"):
        mutants_policy(load_task(root))


def test_the_cache_key_follows_the_mutant_the_tests_the_after_and_the_options(tmp_path):
    root = make_task(tmp_path / "task")
    task = load_task(root)
    after = root / "repository_after"
    context = cache.run_context(task, after, 5.0, True)
    key = cache.run_key("CM103-aaaaaaaaaaaa", context, None)
    assert key == cache.run_key("CM103-aaaaaaaaaaaa", cache.run_context(task, after, 5.0, True), None)
    assert key != cache.run_key("CM103-bbbbbbbbbbbb", context, None)
    assert key != cache.run_key("CM103-aaaaaaaaaaaa", context, 7)
    assert key != cache.run_key("CM103-aaaaaaaaaaaa", cache.run_context(task, after, 10.0, True), None)
    assert key != cache.run_key("CM103-aaaaaaaaaaaa", cache.run_context(task, after, 5.0, False), None)
    tests_before = cache.tests_digest(task)
    (after / "counter.py").write_text((after / "counter.py").read_text() + "\n# changed\n")
    assert cache.tests_digest(task) == tests_before  # the after is not part of the tests
    assert cache.run_context(task, after, 5.0, True)["after"] != context["after"]
    (root / "tests" / "test_p2p.py").write_text((root / "tests" / "test_p2p.py").read_text() + "\n# changed\n")
    assert cache.tests_digest(task) != tests_before


def test_cached_runs_and_kill_counts_come_back_as_stored(tmp_path: Path):
    run = MutantRun({B: False, A: None}, {B: "failed"}, seconds=1.5)
    assert cache.store_run(tmp_path, "k", run.to_cache())
    back = MutantRun.from_cache(cache.load_run(tmp_path, "k"))
    assert list(back.outcomes.items()) == [(B, False), (A, None)] and back.tests == {B: "failed"} and back.cached
    assert cache.load_run(tmp_path, "other") is None and cache.load_run(None, "k") is None
    assert cache.store_kills(tmp_path, "t", {A: 3}) and cache.load_kills(tmp_path, "t") == {A: 3}


def test_a_mutant_run_may_take_three_times_the_afters_run_rounded_up():
    after = observed({A: "passed"})
    after.duration = 5.0
    assert mutant_run_timeout(after, 120.0) == 20.0
    after.duration = 70.0
    assert mutant_run_timeout(after, 120.0) == 120.0  # never beyond the task's own


def test_tests_that_fail_on_the_stressed_after_kill_nothing_under_stress():
    run = MutantRun({A: True, B: False, C: None}, {A: "passed", B: "timeout"})
    assert run.without({B}).outcomes == {A: True, B: None, C: None}


def cached_run(seconds: float, outcome: str = "passed") -> dict:
    return MutantRun({"t::a": outcome == "passed"}, {"t::a": outcome}, seconds=seconds).to_cache()


def test_a_run_no_timeout_decided_holds_under_other_timeouts():
    from concgrade.mutation.phase import holds_under

    earlier, longer, shorter = (
        {"test_timeout": 10.0, "run_timeout": 10.0},
        {"test_timeout": 20.0, "run_timeout": 20.0},
        {"test_timeout": 5.0, "run_timeout": 5.0},
    )
    assert holds_under(cached_run(1.0), earlier, longer)
    assert holds_under(cached_run(1.0), earlier, shorter)  # the whole run took less than the shorter timeout
    assert not holds_under(cached_run(6.0), earlier, shorter)  # a test may have taken longer than 5 s
    assert not holds_under(cached_run(1.0, "timeout"), earlier, longer)  # more time might have let it pass
    assert not holds_under(cached_run(1.0, "crashed"), earlier, longer)
    assert holds_under(cached_run(11.0, "timeout"), earlier, shorter)  # less time stops it all the same


def test_the_last_analysis_timeouts_are_found_when_only_they_changed(tmp_path):
    from concgrade.mutation.phase import earlier_context

    context = {"after": "a1", "tests": "t1", "test_timeout": 10.0, "run_timeout": 10.0}
    assert earlier_context(tmp_path, context, "plain") is None  # nothing before
    assert earlier_context(tmp_path, context, "plain") is None  # the same timeouts: the ordinary key holds
    loaded = {**context, "run_timeout": 20.0}
    assert earlier_context(tmp_path, loaded, "plain") == context
    assert earlier_context(tmp_path, {**context, "after": "a2"}, "plain") is None  # another after: nothing
    assert earlier_context(tmp_path, loaded, "stress") is None  # the stress pass keeps its own
