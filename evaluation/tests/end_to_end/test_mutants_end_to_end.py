"""`concgrade mutants` and `--mutants` on a small task: mutants run like candidates by the sandboxed runner,
stopped at their first failure, cached, survivors rerun under stress, the gate's checks, and bad input."""

from __future__ import annotations

import json

import pytest
from taskfactory import mutants_task


def by_operator(data: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for mutant in data["mutants"]["mutants"]:
        found.setdefault(mutant["operator"].split("-", 1)[0], []).append(mutant)
    return found


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """One `concgrade mutants` of the fixture task, with a fixed stress seed and its own cache folder."""
    from conftest import run_cli

    root = tmp_path_factory.mktemp("mutants")
    task = mutants_task(root / "task")
    env_cache = root / "cache"
    import os

    env = {**os.environ, "CONCGRADE_CACHE_DIR": str(env_cache)}
    first = run_cli("mutants", str(task), "--output", str(root / "out"), "--seed", "7", env=env)
    again = run_cli("mutants", str(task), "--output", str(root / "again"), "--seed", "7", env=env)
    return {
        "root": root,
        "task": task,
        "env": env,
        "first": first,
        "data": json.loads((root / "out" / "results.json").read_text()),
        "again": again,
        "again_data": json.loads((root / "again" / "results.json").read_text()),
    }


def test_the_kill_matrix_names_what_killed_each_mutant_and_the_survivors(analysed):
    result, data = analysed["first"], analysed["data"]
    assert result.returncode == 0, result.stdout + result.stderr  # nothing is gated without a declared [mutants]
    mutants = data["mutants"]
    ops = by_operator(data)
    assert {m["status"] for m in ops["CM103"]} == {"killed"}  # one worker: the two-at-once test fails
    assert ops["CM103"][0]["killed_by"] == "tests/test_f2p.py::test_runs_concurrently"
    assert ops["CM103"][0]["suite"] == "FAIL_TO_PASS"
    assert {m["status"] for m in ops["CM802"]} == {"survived"}  # nothing waits for the pool's shutdown
    assert mutants["survived"] == len(ops["CM802"]) >= 1
    assert mutants["score"] == pytest.approx(
        (mutants["killed"] + mutants["killed_under_stress"]) / mutants["applicable"], abs=1e-4
    )
    assert mutants["mutants"][0]["status"] == "survived"  # survivors first
    na = {op["id"].split("-", 1)[0] for op in mutants["operators"] if op["status"] == "not_applicable"}
    assert {"CM501", "CM701"} <= na and not na & set(ops)
    # The terminal lists each survivor with its requirement and its diff.
    survivor = ops["CM802"][0]
    assert f"✗ survived {survivor['id']}" in result.stdout
    assert f"breaks: {survivor['requirement']}" in result.stdout
    assert "shutdown(wait=False)" in survivor["diff"] or "wait=False" in result.stdout


def test_each_killed_mutant_stopped_at_its_first_failing_test(analysed):
    killed = [m for m in analysed["data"]["mutants"]["mutants"] if m["status"] == "killed"]
    assert killed
    for mutant in killed:
        ran = list(mutant["tests"])
        assert ran[-1] == mutant["killed_by"], mutant  # nothing ran after the first failure
        assert all(outcome == "passed" for outcome in list(mutant["tests"].values())[:-1])


def test_plain_survivors_are_rerun_under_stress_and_those_it_kills_say_so(analysed):
    data = analysed["data"]
    ops = by_operator(data)
    for code in ("CM202", "CM203", "CM204"):  # the pool's size: looked at only under stress
        for mutant in ops[code]:
            assert mutant["status"] == "killed_under_stress", mutant
            assert mutant["stress"]["seed"] == 7
            assert mutant["killed_by"] == "tests/test_stress_only.py::test_pool_has_four_workers_under_stress"
    assert ops["CM802"][0]["stress"]["status"] == "survived"
    assert data["mutants"]["settings"]["stress_seed"] == 7
    assert "killed only under stress (seed 7)" in analysed["first"].stdout


def test_an_unchanged_analysis_comes_from_the_cache(analysed):
    first, again = analysed["data"]["mutants"], analysed["again_data"]["mutants"]
    assert analysed["again"].returncode == 0
    assert again["cache"]["misses"] == 0 and again["cache"]["hits"] == first["cache"]["misses"]
    assert [(m["id"], m["status"]) for m in again["mutants"]] == [(m["id"], m["status"]) for m in first["mutants"]]
    assert all(m["cached"] for m in again["mutants"])


def test_the_report_has_the_mutants_section_with_the_survivors_first(analysed):
    html = (analysed["root"] / "out" / "report.html").read_text()
    survivor = by_operator(analysed["data"])["CM802"][0]
    assert 'id="mutants"' in html and 'id="kill-matrix"' in html
    assert html.index(f'id="mutant-{survivor["id"]}"') < html.index('id="kill-matrix"')


def test_a_declared_gate_fails_the_surviving_operators(cli, tmp_path):
    task = mutants_task(tmp_path / "task", '\n[mutants]\nmin_score = 1.0\nrequired = ["CM103", "CM501"]\n')
    result = cli("--task", str(task), "--mutants", "--no-stress", "--output", str(tmp_path / "out"))
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    failing = {c["id"]: c for c in data["checks"] if c["status"] != "pass"}
    assert set(failing) >= {"suite.kills.CM802-shutdown-no-wait", "suite.kills.CM202-default-pool-size"}
    assert "score" in failing["suite.kills.CM802-shutdown-no-wait"]["message"]
    # CM103 is required and killed; CM501 is required but has nothing to kill here: neither fails.
    assert not {"suite.kills.CM103-single-worker", "suite.kills.CM501-drop-release"} & set(failing)
    assert data["mutants"]["settings"]["stress"] is False
    assert all(m["stress"] is None for m in data["mutants"]["mutants"])


def test_full_matrix_runs_every_suite_test_on_every_mutant(cli, tmp_path):
    task = mutants_task(tmp_path / "task", '\n[mutants]\noperators = ["CM103"]\n')
    result = cli("mutants", str(task), "--full-matrix", "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    (mutant,) = data["mutants"]["mutants"]
    assert len(mutant["tests"]) == len(data["mutants"]["tests"]) == 4
    assert data["mutants"]["settings"]["first_failure"] is False
    assert [op["id"] for op in data["mutants"]["operators"]] == ["CM103-single-worker"]


def test_mutants_are_not_judged_against_an_after_that_fails_its_suites(cli, tmp_path):
    task = mutants_task(tmp_path / "task")
    after = task / "repository_after" / "counter.py"
    after.write_text(after.read_text().replace("max_workers=4", "max_workers=1"))
    result = cli("mutants", str(task), "--output", str(tmp_path / "out"))
    assert result.returncode == 1
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["mutants"]["status"] == "skipped"
    assert "the after does not pass its own suites" in data["mutants"]["reason"]
    assert "mutants: not judged: the after does not pass its own suites" in result.stdout


@pytest.mark.parametrize(
    ("table", "args", "message"),
    [
        ("\n[mutants]\nmin_score = 2\n", (), "mutants.min_score must be a number from 0 to 1"),
        ('\n[mutants]\nrequired = ["CM999"]\n', (), "mutants.required names an unknown operator 'CM999'"),
        ("", ("--mutant-timeout", "0"), "--mutant-timeout must be a positive number"),
    ],
)
def test_bad_mutants_input_is_one_line_and_runs_nothing(cli, tmp_path, table, args, message):
    task = mutants_task(tmp_path / "task", table)
    result = cli("mutants", str(task), *args, "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


# The stress mode hides its switch interval; its sleep is not the builtin one (a test may look, code may not).
ALWAYS_FAILS_UNDER_STRESS = """\
import inspect
import time

def test_fails_whenever_stressed():
    assert inspect.isbuiltin(time.sleep), "this test cannot run under stress"
"""


def test_a_test_that_fails_on_the_stressed_after_kills_no_mutant_under_stress(cli, tmp_path):
    task = mutants_task(tmp_path / "task", '\n[mutants]\noperators = ["CM802"]\n')
    (task / "tests" / "test_stress_only.py").write_text(ALWAYS_FAILS_UNDER_STRESS)
    result = cli("mutants", str(task), "--output", str(tmp_path / "out"))  # a plain grade, stressed survivors
    assert result.returncode == 0, result.stdout + result.stderr
    mutants = json.loads((tmp_path / "out" / "results.json").read_text())["mutants"]
    (mutant,) = mutants["mutants"]
    assert mutant["status"] == "survived", mutant  # its stress run fails that test, as the after's does
    assert mutant["stress"]["tests"]["tests/test_stress_only.py::test_fails_whenever_stressed"] == "failed"
    control = mutants["settings"]["stress_control"]
    assert control["seed"] == mutant["stress"]["seed"] == mutants["settings"]["stress_seed"]
    assert control["failing"] == ["tests/test_stress_only.py::test_fails_whenever_stressed"]
    assert any(f"fail on the after itself under stress seed {control['seed']}" in note for note in mutants["notes"])
