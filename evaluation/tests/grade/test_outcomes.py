"""From streamed records to outcomes: interrupted, crashed, timeouts, xfail, and channel disagreement."""

from __future__ import annotations

from concgrade.grade.outcomes import observe_run
from concgrade.run.outputs import AttemptOutput, RunOutput


def phase(nodeid, when, outcome, **extra):
    return {"type": "phase", "nodeid": nodeid, "when": when, "outcome": outcome, "duration": 0.01, **extra}


NO_REPORT = object()


def attempt(index, records, ended_by="exit", exit_code=0, stacks="", json_report=None, stdout_tail="", **extra):
    """One pytest process's output as the supervisor returns it (with an empty JSON report unless given)."""
    if json_report is None:
        json_report = {"tests": []}
    elif json_report is NO_REPORT:
        json_report = None
    return AttemptOutput(
        index=index,
        command=["pytest"],
        node_ids=[],
        exit_code=exit_code,
        exit_description=f"exited with status {exit_code}",
        ended_by=ended_by,
        duration=1.0,
        records=records,
        json_report=json_report,
        stdout_tail=stdout_tail,
        stderr_tail="",
        stacks=stacks,
        **extra,
    )


def run_output(*attempts):
    return RunOutput(
        name="after",
        role="after",
        toggle_env={},
        expected_folder="/scratch/task/repository_after",
        attempts=list(attempts),
        expected_hashes={"m.py": "abc"},
    )


def output(records, json_report=None, exit_code=0, timed_out=False):
    """A run of one process."""
    ended_by = "wall_clock" if timed_out else "exit"
    return run_output(attempt(0, records, ended_by, exit_code, json_report=json_report))


START = {"type": "session_start"}
FINISH = {"type": "session_finish", "exitstatus": 0}


def finish(status):
    return {"type": "session_finish", "exitstatus": status}


def collected(*ids):
    return {"type": "collected", "nodeids": list(ids)}


def full(nodeid, call="passed", **extra):
    return [phase(nodeid, "setup", "passed"), phase(nodeid, "call", call, **extra), phase(nodeid, "teardown", "passed")]


def test_passed_and_failed():
    run = observe_run(
        output([START, collected("t::a", "t::b"), *full("t::a"), *full("t::b", "failed"), finish(1)], exit_code=1)
    )
    assert {n: t.outcome for n, t in run.tests.items()} == {"t::a": "passed", "t::b": "failed"}
    assert run.started and run.finished and not run.problems


def test_setup_without_call_is_interrupted_even_if_the_json_report_says_passed():
    records = [START, collected("t::a"), phase("t::a", "setup", "passed"), FINISH]
    report = {"tests": [{"nodeid": "t::a", "outcome": "passed"}]}
    run = observe_run(output(records, report, exit_code=2))
    assert run.tests["t::a"].outcome == "interrupted"
    assert not run.tests["t::a"].passed


def test_a_test_whose_report_crashed_pytest_says_so():
    records = [START, collected("t::a", "t::b"), phase("t::a", "setup", "passed"), finish(3)]
    crash = "INTERNALERROR>     return self._rawentry.tb_lineno - 1\nINTERNALERROR> TypeError: unsupported operand"
    run = observe_run(run_output(attempt(0, records, exit_code=3, stdout_tail=f"F\n{crash}\n")))
    test = run.tests["t::a"]
    assert test.outcome == "interrupted" and not test.passed
    assert test.message == "pytest itself crashed in this test, which ended its session: TypeError: unsupported operand"
    assert run.tests["t::b"].outcome == "missing"


def test_a_failed_or_timed_out_call_whose_teardown_failed_too_is_an_error_in_the_json_report():
    """pytest-json-report says "error" once a teardown failed, whatever the call did: no channel disagreement."""
    timed_out = "E   Failed: Timeout (>20.0s) from pytest-timeout."
    records = [START, collected("t::slow", "t::wrong")]
    records += [phase("t::slow", "setup", "passed"), phase("t::slow", "call", "failed", longrepr=timed_out)]
    records += [phase("t::slow", "teardown", "failed", longrepr="E   OSError: pipe busy")]
    records += [phase("t::wrong", "setup", "passed"), phase("t::wrong", "call", "failed", longrepr="E   assert 1 == 2")]
    records += [phase("t::wrong", "teardown", "failed", longrepr="E   OSError: pipe busy"), finish(1)]
    report = {"tests": [{"nodeid": "t::slow", "outcome": "error"}, {"nodeid": "t::wrong", "outcome": "error"}]}
    run = observe_run(output(records, report, exit_code=1))
    assert {n: t.outcome for n, t in run.tests.items()} == {"t::slow": "timeout", "t::wrong": "failed"}
    assert not run.problems
    # A JSON report that says such a test passed still disagrees.
    run = observe_run(output(records, {"tests": [{"nodeid": "t::wrong", "outcome": "passed"}]}, exit_code=1))
    assert run.problems and run.tests["t::wrong"].outcome == "inconsistent"


def test_a_process_that_died_mid_test_leaves_it_crashed_and_the_rest_missing():
    records = [START, collected("t::a", "t::b", "t::c"), *full("t::a"), phase("t::b", "setup", "passed")]
    run = observe_run(output(records, None, exit_code=0))
    outcomes = {n: t.outcome for n, t in run.tests.items()}
    assert outcomes == {"t::a": "passed", "t::b": "crashed", "t::c": "missing"}
    assert not run.finished


def test_wall_clock_kill_marks_the_running_test_as_timeout():
    records = [START, collected("t::a"), phase("t::a", "setup", "passed")]
    run = observe_run(output(records, None, exit_code=None, timed_out=True))
    assert run.tests["t::a"].outcome == "timeout"


def test_pytest_timeout_failure_is_a_timeout():
    records = [
        START,
        collected("t::a"),
        *full("t::a", "failed", longrepr="E   Failed: Timeout (>1.0s) from pytest-timeout."),
        FINISH,
    ]
    assert observe_run(output(records, exit_code=1)).tests["t::a"].outcome == "timeout"


def test_xfail_and_xpass_and_skip():
    records = [
        START,
        collected("t::x", "t::y", "t::s"),
        *full("t::x", "skipped", wasxfail="reason"),
        *full("t::y", "passed", wasxfail="reason"),
        phase("t::s", "setup", "skipped"),
        phase("t::s", "teardown", "passed"),
        FINISH,
    ]
    run = observe_run(output(records))
    assert {n: t.outcome for n, t in run.tests.items()} == {"t::x": "xfailed", "t::y": "xpassed", "t::s": "skipped"}
    assert run.tests["t::x"].passed and not run.tests["t::y"].passed and not run.tests["t::s"].passed


def test_failed_teardown_turns_a_pass_into_an_error():
    records = [
        START,
        collected("t::a"),
        phase("t::a", "setup", "passed"),
        phase("t::a", "call", "passed"),
        phase("t::a", "teardown", "failed", longrepr="boom"),
        finish(1),
    ]
    assert observe_run(output(records, exit_code=1)).tests["t::a"].outcome == "error"


def test_channels_that_disagree_make_the_test_inconsistent():
    records = [START, collected("t::a"), *full("t::a", "failed"), finish(1)]
    report = {"tests": [{"nodeid": "t::a", "outcome": "passed"}]}
    run = observe_run(output(records, report, exit_code=1))
    assert run.tests["t::a"].outcome == "inconsistent"
    assert run.problems


def test_a_json_report_that_says_passed_where_the_tasks_hook_blanked_the_status_is_not_a_disagreement():
    records = [START, collected("t::a"), *full("t::a", "failed", blank_status=True), finish(1)]
    report = {"tests": [{"nodeid": "t::a", "outcome": "passed"}]}  # pytest-json-report keeps its default
    run = observe_run(output(records, report, exit_code=1))
    assert run.tests["t::a"].outcome == "failed"
    assert not run.problems


def test_a_blanked_status_excuses_only_the_json_reports_default_and_only_for_its_own_test():
    records = [START, collected("t::a", "t::b"), *full("t::a", "failed", blank_status=True), *full("t::b", "failed")]
    report = {"tests": [{"nodeid": "t::a", "outcome": "skipped"}, {"nodeid": "t::b", "outcome": "passed"}]}
    run = observe_run(output([*records, finish(1)], report, exit_code=1))
    assert run.tests["t::a"].outcome == "inconsistent"  # a report that says something else still disagrees
    assert run.tests["t::b"].outcome == "inconsistent"  # and a test without a blanked status is not excused
    assert len([p for p in run.problems if "streamed outcome" in p]) == 2


def test_exit_status_zero_with_failures_is_a_problem():
    records = [START, collected("t::a"), *full("t::a", "failed"), {"type": "session_finish", "exitstatus": 0}]
    run = observe_run(output(records, exit_code=0))
    assert any("status 0 although tests failed" in problem for problem in run.problems)


def test_import_proof_checks_folder_and_content():
    good = {"type": "implementation", "module": "m", "file": "/scratch/task/repository_after/m.py", "sha256": "abc"}
    changed = {**good, "sha256": "def"}
    elsewhere = {**good, "file": "/scratch/task/repository_before/m.py"}
    proofs = observe_run(output([START, good, changed, elsewhere, FINISH])).imports
    assert [(p.expected, p.content_matches) for p in proofs] == [(True, True), (True, False), (False, False)]


def test_a_finished_session_without_its_json_report_is_a_disagreement_not_a_skipped_check():
    records = [START, collected("t::a"), *full("t::a"), FINISH]
    missing = observe_run(run_output(attempt(0, records, json_report=NO_REPORT)))
    assert missing.problems == ["the session finished but its JSON report is unusable: missing"]
    fifo = observe_run(
        run_output(attempt(0, records, json_report=NO_REPORT, json_report_problem="not a regular file (a FIFO)"))
    )
    assert "a FIFO" in fifo.problems[0]


def test_exit_1_with_every_streamed_test_passed_is_a_disagreement():
    run = observe_run(output([START, collected("t::a"), *full("t::a"), finish(1)], exit_code=1))
    assert run.problems == ["pytest exited 1 (tests failed) although every streamed test passed"]


def test_a_phase_reported_twice_is_a_disagreement():
    records = [START, collected("t::a"), *full("t::a", "failed"), phase("t::a", "call", "passed"), finish(1)]
    run = observe_run(output(records, exit_code=1))
    assert "t::a: its call phase was reported more than once" in run.problems


def test_a_deadlock_ended_by_the_supervisor_is_a_timeout_that_says_so():
    records = [START, collected("t::a", "t::b"), phase("t::a", "setup", "passed")]
    run = observe_run(
        run_output(
            attempt(
                0,
                records,
                ended_by="deadlock",
                exit_code=None,
                stacks="Thread 0x1 (most recent call first):\n  File x, line 3 in run_all",
            )
        )
    )
    test = run.tests["t::a"]
    assert test.outcome == "timeout" and "every thread of the process waited without a timeout" in test.message
    assert "run_all" in test.message and run.tests["t::b"].outcome == "missing"


def test_tests_a_stopped_run_never_ran_say_why():
    records = [START, collected("t::a", "t::b"), phase("t::a", "setup", "passed")]
    out = run_output(attempt(0, records, ended_by="deadlock", exit_code=None))
    out.stopped = "not run: limit breached repeatedly (a deadlock ended 3 processes in a row)"
    run = observe_run(out)
    assert run.tests["t::b"].outcome == "missing" and run.tests["t::b"].message.startswith("not run: limit breached")
    assert run.stopped


def test_audit_findings_become_the_runs_containment_findings():
    finding = {
        "type": "audit",
        "nodeid": "t::a",
        "event": "gc.get_objects",
        "what": "gc.get_objects",
        "where": "/scratch/m.py:3",
        "denied": True,
    }
    run = observe_run(output([START, collected("t::a"), *full("t::a"), finding, FINISH]))
    assert run.contained == ["gc.get_objects at /scratch/m.py:3 (denied during t::a)"]


def test_a_conftest_that_changes_the_exit_status_is_a_note_not_a_channel_problem():
    records = [START, collected("t::a"), *full("t::a", "failed"), finish(1), {"type": "session_exit", "exitstatus": 0}]
    run = observe_run(output(records, exit_code=0))
    assert run.problems == [] and run.tests["t::a"].outcome == "failed"
    assert run.notes == [
        "the task's hooks changed pytest's exit status from 1 to 0: the grade uses the per-test outcomes"
    ]


def test_a_process_exit_that_is_not_what_pytest_returned_is_still_a_problem():
    records = [START, collected("t::a"), *full("t::a", "failed"), finish(1), {"type": "session_exit", "exitstatus": 1}]
    run = observe_run(output(records, exit_code=0))
    assert run.problems == ["pytest returned status 1 but the process exited 0"]


def test_a_failing_subtest_fails_its_test_and_the_json_reports_subtest_words_are_not_a_disagreement():
    subtest = phase("t::a", "call", "failed", subtest="(i=1)", longrepr="AssertionError: 1")
    records = [START, collected("t::a"), phase("t::a", "setup", "passed"), subtest, *full("t::a")[1:], finish(1)]
    report = {"tests": [{"nodeid": "t::a", "outcome": "subtests passed"}]}
    run = observe_run(output(records, json_report=report, exit_code=1))
    assert run.tests["t::a"].outcome == "failed" and "subtest (i=1) failed" in run.tests["t::a"].message
    assert run.problems == []


def test_the_files_a_run_read_are_told_apart_by_folder_with_their_content_checked():
    own = {"type": "loaded", "file": "/scratch/task/repository_after/m.py", "sha256": "abc"}
    other = {"type": "loaded", "file": "/scratch/task/repository_before/m.py", "sha256": "zzz"}
    elsewhere = {"type": "loaded", "file": "/scratch/task/tests/helper.py", "sha256": "x"}
    out = output([START, own, other, elsewhere, FINISH])
    out.other_folders = ["/scratch/task/repository_before"]
    out.attempts[0].child_loads = [("/scratch/task/repository_after/data.json", "d")]
    loads = [(load.file, load.folder, load.process, load.content_matches) for load in observe_run(out).loads]
    assert loads == [
        ("m.py", "own", "test", True),
        ("m.py", "other", "test", False),
        ("data.json", "own", "child", False),
    ]
