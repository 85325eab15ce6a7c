"""Runs of several processes: outcomes merged across attempts, and why a test hung or died, with the evidence."""

from __future__ import annotations

from test_outcomes import START, attempt, collected, finish, full, phase, run_output

from concgrade.grade.outcomes import observe_run
from concgrade.grade.safety import safety_checks

IMPL = "/scratch/task/repository_after"


def run_of(*attempts):
    return observe_run(run_output(*attempts))


def died_in(nodeid):
    return [START, collected("t::a", "t::b", "t::c"), *full("t::a"), phase(nodeid, "setup", "passed")]


def test_a_crash_costs_one_test_and_the_rest_come_from_the_next_process():
    first = attempt(0, died_in("t::b"), exit_code=-11)
    first.exit_description = "killed by signal 11 (SIGSEGV)"
    second = attempt(1, [START, collected("t::c"), *full("t::c"), finish(0)])
    run = run_of(first, second)
    assert {n: t.outcome for n, t in run.tests.items()} == {"t::a": "passed", "t::b": "crashed", "t::c": "passed"}
    assert "SIGSEGV" in run.tests["t::b"].message
    assert [a["tests_started"] for a in run.attempts] == [2, 1]


def test_faulthandler_stacks_turn_a_death_into_a_suspected_deadlock():
    stacks = 'Timeout (0:00:04)!\nThread 0x1 (most recent call first):\n  File "m.py", line 3 in spin\n'
    run = run_of(attempt(0, died_in("t::b"), exit_code=1, stacks=stacks, ended_by="faulthandler"))
    test = run.tests["t::b"]
    assert test.outcome == "timeout" and "deadlock suspected" in test.message and "in spin" in test.message


def test_the_wall_clock_names_the_test_it_caught_with_the_stacks():
    stacks = 'Current thread 0x1 (most recent call first):\n  File "m.py", line 9 in wait_forever\n'
    run = run_of(attempt(0, died_in("t::b"), ended_by="wall_clock", exit_code=None, stacks=stacks))
    assert run.tests["t::b"].outcome == "timeout" and "wait_forever" in run.tests["t::b"].message
    assert run.tests["t::c"].outcome == "missing"


def test_a_memory_kill_is_named_on_the_test_that_died():
    breach = "memory: the run reached its limit of 256 MiB and the kernel killed 1 process(es) (cgroup memory)"
    run = run_of(attempt(0, died_in("t::b"), exit_code=-9, limit_breaches=[breach]))
    assert run.tests["t::b"].outcome == "crashed" and "256 MiB" in run.tests["t::b"].message
    assert run.limit_breaches == [breach]


def test_tampering_records_hooks_from_the_implementation_and_forged_lines_are_findings():
    records = [
        START,
        collected("t::a"),
        {"type": "tamper", "what": "_pytest.runner.call_and_report was replaced", "source": f"{IMPL}/m.py"},
        {"type": "hookimpl", "hook": "pytest_runtest_makereport", "source": f"{IMPL}/m.py"},
        {"type": "hookimpl", "hook": "pytest_runtest_setup", "source": "/scratch/task/tests/conftest.py"},
        *full("t::a"),
        finish(0),
    ]
    run = run_of(attempt(0, records, forged_lines=['{"type": "phase"}']))
    assert len(run.tampering) == 3
    assert "call_and_report was replaced" in run.tampering[0]
    assert "registered a pytest_runtest_makereport hook" in run.tampering[1]
    assert "1 forged line(s)" in run.tampering[2]
    checks = {check.id: check for check in safety_checks([run])}
    assert checks["integrity.runner_untampered.after"].status == "fail"
    assert checks["limits.respected.after"].status == "pass"


def test_a_changed_user_folder_fails_the_grade():
    checks = {check.id: check for check in safety_checks([], ["/home/me/task/tests/test_x.py (modified)"])}
    assert checks["integrity.task_folder_unchanged"].status == "fail"
    assert "test_x.py" in checks["integrity.task_folder_unchanged"].message


TIMED_OUT = {"longrepr": "E   Failed: Timeout >20.0s"}


def stopped_by_the_default_timeout(ended_by="hung_after_session"):
    """A first process whose t::b pytest-timeout stopped; its threads kept the process alive after the session."""
    records = [START, collected("t::a", "t::b"), *full("t::a"), *full("t::b", "failed", **TIMED_OUT), finish(1)]
    return attempt(0, records, exit_code=1, ended_by=ended_by)


def slow_retry(call, ended_by="exit", **extra):
    retry = attempt(1, [START, collected("t::b"), *full("t::b", call, **extra), finish(0)], ended_by=ended_by)
    retry.node_ids, retry.slow_retry = ["t::b"], 100.0
    return retry


def test_a_test_a_default_timeout_stopped_takes_its_outcome_from_its_slower_second_run():
    run = run_of(stopped_by_the_default_timeout(), slow_retry("passed"))
    assert {n: t.outcome for n, t in run.tests.items()} == {"t::a": "passed", "t::b": "passed"}
    assert any(
        "t::b outlived the default per-test timeout and ran again alone with 100 s: passed" in n for n in run.notes
    )
    assert run.hangs == []  # the threads of the stopped test kept the first process alive: not the code's hang
    assert any("process 1 did not exit after its session" in note for note in run.notes)


def test_a_second_run_that_times_out_again_keeps_the_timeout_and_the_hang():
    run = run_of(stopped_by_the_default_timeout(), slow_retry("failed", **TIMED_OUT))
    assert run.tests["t::b"].outcome == "timeout"
    assert len(run.hangs) == 1


def test_a_slow_second_run_that_itself_hangs_is_a_hang():
    run = run_of(stopped_by_the_default_timeout(ended_by="exit"), slow_retry("passed", ended_by="hung_after_session"))
    assert run.tests["t::b"].outcome == "passed" and len(run.hangs) == 1


def test_an_ordinary_rerun_never_replaces_a_timeout():
    rerun = attempt(1, [START, collected("t::b"), *full("t::b"), finish(0)])
    run = run_of(stopped_by_the_default_timeout(), rerun)
    assert run.tests["t::b"].outcome == "timeout" and len(run.hangs) == 1
