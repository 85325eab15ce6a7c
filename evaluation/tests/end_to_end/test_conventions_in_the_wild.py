"""End to end: fixture tasks in the shapes public dataset tasks have, graded zero-config as a dataset owner would.

One class of the practice corpus per fixture (wildfactory.py): greenfield, tests importing both
implementations, wrong metadata, the toggles seen in the wild, exit statuses that lie, tasks whose own after
fails, the task's pytest and Python, and services. Each asserts the verdict and the reason a reviewer reads.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import RUN_PY, validate_results
from taskfactory import write_files
from wildfactory import (
    BODIES,
    IMPORT_COUNTER,
    LONG_WORKLOAD_SECONDS,
    NOT_JSON,
    P2P_AS_F2P,
    PLAIN,
    base,
    both,
    long_workload,
    make_wild_dataset,
    metadata,
)

from concgrade.dataset.interpreters import candidate_paths
from concgrade.dataset.local_services import can_start, missing_program


def run(*args: str, cache: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONCGRADE_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, str(RUN_PY), *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def wild(tmp_path_factory):
    """Every plain fixture graded once, as one dataset on two workers: (dataset, reports, rows by label)."""
    base_dir = tmp_path_factory.mktemp("wild")
    dataset = make_wild_dataset(base_dir / "ds")
    reports = base_dir / "reports"
    done = run("dataset", str(dataset), "--jobs", "2", "--json", "--output", str(reports), cache=base_dir / "cache")
    assert done.stdout, done.stderr
    document = json.loads(done.stdout)
    assert "Traceback" not in done.stderr
    return dataset, reports, {row["label"]: row for row in document["tasks"]}


def results_of(wild, label: str) -> dict:
    data = json.loads((wild[1] / label / "results.json").read_text())
    validate_results(data, label)
    return data


def check(results: dict, check_id: str) -> dict:
    return next(c for c in results["checks"] if c["id"] == check_id)


def failing(row: dict) -> list[str]:
    return [c["id"] for c in row["failing_checks"]]


@pytest.mark.parametrize("label", sorted(PLAIN))
def test_each_shape_gets_the_verdict_its_own_commands_give(wild, label):
    row = wild[2][label]
    assert row["verdict"] == PLAIN[label][1], (label, row["failing_checks"], row.get("error"))


# --- class 2: greenfield ----------------------------------------------------------------------------------


def test_a_greenfield_before_is_graded_as_nothing_to_import(wild):
    for label in ("greenfield_gitkeep", "greenfield_absent"):
        results = results_of(wild, label)
        assert results["mode"]["kind"] == "greenfield" and results["mode"]["before"] == "nothing to import", label
        assert check(results, "implementation.proved.before")["status"] == "pass"
        assert not [f for f in results["lint"] if f["severity"] == "error"], label  # no CL003 / CL001 error
        before = results["implementations"]["before"]
        assert before["collect_errors"] or not before["tests"], label  # every test failed or errored there
        assert results["suites"]["PASS_TO_PASS"] == [] and results["suites"]["FAIL_TO_PASS"]


def test_tests_that_hard_code_after_with_nothing_selecting_before_count_before_as_failing(wild):
    results = results_of(wild, "greenfield_hardcoded")
    assert results["mode"]["before"] == "not selectable"
    assert "cannot be selected" in check(results, "f2p.fails_on_before")["message"]
    assert len(results["suites"]["FAIL_TO_PASS"]) == 2


def test_services_that_run_each_implementation_as_a_program_are_not_its_test_selection(wild):
    results = results_of(wild, "demo_services")
    assert results["task"]["toggle"]["kind"] == "pythonpath" and results["task"]["test_files"] == ["tests"]
    assert results["mode"]["before"] == "not selectable"
    assert len(results["suites"]["FAIL_TO_PASS"]) == 2 and results["implementations"]["after"]["summary"]["passed"] == 2


def test_a_documented_before_that_falls_back_to_after_is_caught_by_what_it_read(wild):
    results = results_of(wild, "greenfield_falls_back")
    proof = check(results, "implementation.proved.before")
    assert (
        proof["status"] == "fail" and "another implementation" in proof["message"] and "counter.py" in proof["message"]
    )


def test_tests_that_read_pythonpath_as_one_folder_find_each_implementation_there(wild):
    results = results_of(wild, "pythonpath_as_folder")
    before = {t["name"]: t["outcome"] for t in results["implementations"]["before"]["tests"]}
    # Read as `Path(os.environ["PYTHONPATH"])`, the variable names before's folder: its sequential code fails.
    assert before == {
        "test_runs_as_a_program": "passed",
        "test_doubles_in_order": "passed",
        "test_work_leaves_the_main_thread": "failed",
    }
    assert check(results, "implementation.proved.before")["status"] == "pass"


def test_a_conftest_that_blanks_every_status_leaves_the_channels_agreeing(wild):
    results = results_of(wild, "quiet_status_hook")
    assert check(results, "runs.consistent")["status"] == "pass"
    before = {t["name"]: t["outcome"] for t in results["implementations"]["before"]["tests"]}
    assert before["test_work_leaves_the_main_thread"] == "failed"


# --- class 3 and the import proof -----------------------------------------------------------------------


def test_tests_importing_both_implementations_are_judged_by_the_toggled_import(wild):
    results = results_of(wild, "equivalence")
    proof = check(results, "implementation.proved.before")
    assert proof["status"] == "pass" and "also read another implementation on purpose" in proof["message"]
    assert [p["module"] for p in results["implementations"]["before"]["imports"]] == ["counter"]
    loads = {(load["folder"], load["file"]) for load in results["implementations"]["before"]["loads"]}
    assert {("own", "counter.py"), ("other", "counter.py")} <= loads


@pytest.mark.parametrize(
    "label, own",
    [("loaded_by_path", "counter.py"), ("namespace_src", "src/engine/counter.py"), ("path_value", "payload.json")],
)
def test_code_loaded_by_path_a_src_layout_or_a_data_file_is_proved_by_the_files_read(wild, label, own):
    results = results_of(wild, label)
    for name in ("before", "after"):
        loads = [
            (load["folder"], load["file"], load["content_matches"])
            for load in results["implementations"][name]["loads"]
        ]
        assert ("own", own, True) in loads, (label, name, loads)


def test_a_meta_suite_run_in_a_child_pytest_is_read_by_the_run(wild):
    results = results_of(wild, "meta_subprocess")
    loads = {(load["folder"], load["file"]) for load in results["implementations"]["after"]["loads"]}
    assert ("own", "test_suite.py") in loads
    assert check(results, "implementation.proved.after")["status"] == "pass"


# --- class 4: metadata that is wrong is not a wrong task -------------------------------------------------


@pytest.mark.parametrize(
    "label, finding",
    [
        ("metadata_empty", "instances.empty"),
        ("metadata_not_json", "instances.invalid"),
        ("metadata_no_such_tests", "instances.unmatched"),
        ("metadata_p2p_as_f2p", "instances.f2p_passes_on_before"),
    ],
)
def test_wrong_metadata_is_a_warning_with_the_corrected_lists(wild, label, finding):
    row = wild[2][label]
    assert row["failing_checks"] == []
    findings = {f["id"]: f["severity"] for f in row["instances"]["findings"]}
    assert findings.get(finding) == "warning", findings
    assert row["instances"]["corrected"]["FAIL_TO_PASS"] == ["tests/test_counter.py::test_work_leaves_the_main_thread"]
    assert row["instances"]["corrected"]["PASS_TO_PASS"] == ["tests/test_counter.py::test_doubles_in_order"]


def test_class_qualified_entries_match_their_tests(wild):
    row = wild[2]["metadata_class_names"]
    assert row["instances"]["status"] == "valid" and row["instances"]["findings"] == []


def test_the_gate_holds_the_metadata_to_what_the_runs_show(tmp_path):
    dataset = tmp_path / "ds"
    for label, instance in (("not_json", NOT_JSON), ("p2p_as_f2p", P2P_AS_F2P)):
        write_files(dataset / label, metadata(instance)())
    done = run(
        "dataset",
        str(dataset),
        "--gate",
        "--repeat",
        "1",
        "--json",
        "--output",
        str(tmp_path / "r"),
        cache=tmp_path / "c",
    )
    rows = {row["label"]: row for row in json.loads(done.stdout)["tasks"]}
    assert rows["not_json"]["verdict"] == "rejected" and "task.lint" in failing(rows["not_json"])
    assert rows["p2p_as_f2p"]["verdict"] == "rejected" and "f2p.fails_on_before" in failing(rows["p2p_as_f2p"])
    assert "instances.correct" in failing(rows["p2p_as_f2p"])


def test_check_fix_writes_the_lists_the_last_grade_showed(wild, tmp_path):
    task = tmp_path / "task"
    shutil.copytree(wild[0] / "metadata_p2p_as_f2p", task)
    results = tmp_path / "results.json"
    data = results_of(wild, "metadata_p2p_as_f2p")
    results.write_text(json.dumps({**data, "task": {**data["task"], "root": str(task.resolve())}}))
    done = run("check", "--fix", "--results", str(results), str(task), cache=tmp_path / "c")
    assert "CL022" in done.stdout and "(fixed)" in done.stdout, done.stdout + done.stderr
    written = json.loads((task / "instances" / "instance.json").read_text())
    assert written["FAIL_TO_PASS"] == ["tests/test_counter.py::test_work_leaves_the_main_thread"]
    assert written["PASS_TO_PASS"] == ["tests/test_counter.py::test_doubles_in_order"]
    assert (task / "instances" / "instance.json.orig").read_text() == P2P_AS_F2P


# --- class 5: toggles seen in the wild ---------------------------------------------------------------------


def test_the_toggles_are_read_as_the_commands_write_them(wild):
    rows = wild[2]
    assert rows["working_folder"]["task"]["toggle"]["kind"] == "cwd"
    assert rows["files_unused_option"]["task"]["toggle"]["kind"] == "selection"  # not the unused --target
    path = rows["path_value"]["task"]["toggle"]
    assert path["path_value"] is True and path["values"]["before"] == "/app/repository_before"
    relative = rows["relative_value"]["task"]["toggle"]
    assert relative["path_value"] is False and relative["values"] == {
        "before": "repository_before",
        "after": "repository_after",
    }
    (shared,) = rows["shared_variable"]["task"]["toggle_source"]["environment"]
    assert shared.endswith("(service test-after): WEBHOOK_SECRET=test-secret")


def test_parametrized_cases_selected_by_k_are_paired(wild):
    results = results_of(wild, "keyword_cases")
    assert results["suites"]["FAIL_TO_PASS"] == ["tests/test_counter.py::test_work_leaves_the_main_thread[{impl}-True]"]


def test_unittest_suites_and_runner_scripts_run_under_pytest_and_say_so(wild):
    unittest_row = wild[2]["unittest_suite"]["task"]
    assert any("run under pytest" in note and "unittest" in note for note in unittest_row["toggle_source"]["runner"])
    script = results_of(wild, "runner_script")
    assert script["task"]["test_files"] == ["tests/unified_test.py"]  # the stray test_scratch.py is not run
    assert any("tests/unified_test.py" in note for note in script["task"]["toggle_source"]["runner"])


def test_a_variable_that_steers_only_some_files_still_proves_each_side(wild):
    results = results_of(wild, "variable_some_files")
    assert "also read another implementation" in check(results, "implementation.proved.before")["message"]
    assert results["suites"]["FAIL_TO_PASS"] == ["tests/test_steered.py::test_work_leaves_the_main_thread"]


# --- class 6: exit status that lies -------------------------------------------------------------------------


def test_a_conftest_that_forces_the_exit_status_is_graded_by_per_test_outcomes(wild):
    results = results_of(wild, "forced_exit_status")
    before = results["implementations"]["before"]
    assert before["exit_code"] == 0 and before["problems"] == []
    assert any("exit status from 1 to 0" in note for note in before["notes"])
    assert {(f["id"], f["severity"]) for f in results["lint"]} >= {("CL051", "warning")}


def test_an_xfail_on_before_did_not_pass_there(wild):
    results = results_of(wild, "xfail_on_before")
    before = {t["nodeid"]: t["outcome"] for t in results["implementations"]["before"]["tests"]}
    assert before["tests/test_counter.py::test_work_leaves_the_main_thread"] == "xfailed"
    assert check(results, "f2p.fails_on_before")["status"] == "pass"


def test_a_before_command_whose_own_tests_all_xfail_shows_no_fix(wild):
    row = wild[2]["xfailed_baseline_file"]
    assert failing(row) == ["suites.f2p_nonempty"]
    assert "all of those pass or xfail on before" in row["failing_checks"][0]["message"]
    results = results_of(wild, "xfailed_baseline_file")
    before = {t["nodeid"]: t["outcome"] for t in results["implementations"]["before"]["tests"]}
    assert set(before.values()) == {"xfailed"} and len(before) == 2  # only its own file ran there
    after = [t["nodeid"] for t in results["implementations"]["after"]["tests"]]
    assert len(after) == 2 and all(n.startswith("tests/test_counter.py::") for n in after)  # -k "not Baseline"


def test_skipped_and_xpassed_on_before_are_never_inferred_as_fail_to_pass(wild):
    row = wild[2]["skipped_xpassed"]
    assert failing(row) == ["suites.f2p_nonempty"]


def test_a_failing_subtest_fails_its_test(wild):
    results = results_of(wild, "subtests")
    before = {t["nodeid"]: t for t in results["implementations"]["before"]["tests"]}
    failed = before["tests/test_counter.py::Counting::test_pool_for_each_size"]
    assert failed["outcome"] == "failed" and "subtest" in failed["message"]
    assert results["implementations"]["before"]["problems"] == []


# --- class 7: a task whose own after fails --------------------------------------------------------------


def test_a_hook_argument_the_tasks_pytest_removed_rejects_with_the_reason(wild):
    row = wild[2]["removed_hook"]
    started = next(c for c in row["failing_checks"] if c["id"] == "runs.started")
    assert started["status"] == "fail" and "startdir" in started["message"]


def test_a_stray_test_file_the_documented_command_collects_rejects(wild):
    row = wild[2]["stray_test_in_after"]
    ran = next(c for c in row["failing_checks"] if c["id"] == "suites.ran")
    assert "repository_after/test_leftover.py" in ran["message"] and "after" in ran["message"]


def test_a_test_longer_than_the_default_timeout_runs_again_with_more_time_and_passes(wild):
    results = results_of(wild, "long_workload")
    name = "tests/test_counter.py::test_a_long_workload_with_pollers"
    after = results["implementations"]["after"]
    slow = next(test for test in after["tests"] if test["nodeid"] == name)
    assert slow["outcome"] == "passed" and slow["duration"] >= LONG_WORKLOAD_SECONDS
    assert any(f"{name} outlived the default per-test timeout" in note for note in after["notes"]), after["notes"]
    # Its pollers kept the first process alive after its session: the default timeout's doing, not the code's.
    assert check(results, "runs.processes_ended.after")["status"] == "pass"
    assert [attempt["tests_requested"] for attempt in after["attempts"]][1:] == [1]
    before = results["implementations"]["before"]
    assert next(t for t in before["tests"] if t["nodeid"] == name)["outcome"] == "failed"
    assert len(before["attempts"]) == 1  # a quick failure is not run again


def test_a_declared_test_timeout_counts_as_it_is(tmp_path):
    task = tmp_path / "long_workload"
    write_files(task, long_workload())
    done = run(str(task), "--test-timeout", "5", "--json", "--output", str(tmp_path / "out"), cache=tmp_path / "c")
    results = json.loads(done.stdout)
    assert results["verdict"] == "rejected", results["checks"]
    after = results["implementations"]["after"]
    slow = next(t for t in after["tests"] if t["nodeid"].endswith("test_a_long_workload_with_pollers"))
    assert slow["outcome"] == "timeout" and len(after["attempts"]) == 1


@pytest.mark.parametrize(
    ("label", "source"),
    [("own_timeout_ini", "pytest.ini: timeout = 1"), ("own_timeout_documented", "README.md:7: --timeout=1")],
)
def test_the_tasks_own_per_test_timeout_is_the_one_its_tests_get(wild, label, source):
    """concgrade's own --timeout overrode the task's, and a 3 s test its own commands fail passed here."""
    results = results_of(wild, label)
    assert results["task"]["limits"]["test_timeout"] == 1
    assert results["task"]["limits"]["test_timeout_source"] == source
    slow = "tests/test_counter.py::test_a_report_takes_three_seconds"
    after = results["implementations"]["after"]
    test = next(t for t in after["tests"] if t["nodeid"] == slow)
    assert test["outcome"] == "timeout" and "Timeout (>1.0s)" in test["message"]
    assert len(after["attempts"]) == 1  # a declared timeout counts as it is: no second chance with more time
    assert "p2p.passes_on_after" in failing(wild[2][label]) or "f2p.passes_on_after" in failing(wild[2][label])


def test_the_tasks_own_addopts_timeout_wins_over_its_ini_setting(wild):
    results = results_of(wild, "own_timeout_generous")
    limits = results["task"]["limits"]
    assert limits["test_timeout"] == 30 and limits["test_timeout_source"] == "pyproject.toml: addopts --timeout=30"


# --- classes 1 and 8: the task's own pytest and Python (--install) ----------------------------------------


def test_the_task_keeps_its_pinned_pytest_and_gets_the_python_its_dockerfile_names(tmp_path):
    python312 = [p for p in Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"), "versions").glob("3.12.*")]
    if not python312 and shutil.which("python3.12") is None:
        pytest.skip("no Python 3.12 on this machine (pyenv, uv or PATH)")
    dataset = tmp_path / "ds"
    version_test = "import sys\n\n\ndef test_the_image_python():\n    assert sys.version_info[:2] == (3, 12)\n\n\n"
    write_files(
        dataset / "pinned",
        {
            **base(PYTHONPATH_README_PIN),
            **both(),
            "requirements.txt": "pytest==8.3.3\n",
            "tests/test_counter.py": IMPORT_COUNTER + BODIES,
        },
    )
    write_files(
        dataset / "python312",
        {
            **base(
                PYTHONPATH_README_PIN, dockerfile="FROM python:3.12-slim AS base\nRUN pip install -r requirements.txt\n"
            ),
            **both(),
            "tests/test_counter.py": IMPORT_COUNTER + version_test + BODIES,
        },
    )
    done = run(
        "dataset",
        str(dataset),
        "--install",
        "--jobs",
        "2",
        "--json",
        "--output",
        str(tmp_path / "r"),
        cache=tmp_path / "c",
    )
    rows = {row["label"]: row for row in json.loads(done.stdout)["tasks"]}
    pinned = rows["pinned"]
    assert pinned["verdict"] == "accepted", (pinned["failing_checks"], pinned.get("error"))
    assert pinned["environment"]["packages"]["pytest"] == "8.3.3"
    assert "pytest==9.0.3" not in pinned["environment"]["added"]
    python = rows["python312"]
    assert python["verdict"] == "accepted", (python["failing_checks"], python.get("error"))
    assert (
        python["environment"]["python"]["version"].startswith("3.12.")
        and python["environment"]["python"]["note"] is None
    )


def test_one_task_is_graded_in_its_own_environment_with_install(tmp_path):
    """`--install` grades a single task as `dataset --install` does: its pinned pytest, not the harness's."""
    task = tmp_path / "pinned"
    version_test = "import pytest\n\n\ndef test_the_pinned_pytest():\n    assert pytest.__version__ == '8.3.3'\n\n\n"
    write_files(
        task,
        {
            **base(PYTHONPATH_README_PIN),
            **both(),
            "requirements.txt": "pytest==8.3.3\n",
            "tests/test_counter.py": IMPORT_COUNTER + version_test + BODIES,
        },
    )
    before = sorted(str(path.relative_to(task)) for path in task.rglob("*"))
    out = tmp_path / "out"
    done = run(str(task), "--install", "--json", "--output", str(out), cache=tmp_path / "c")
    results = json.loads(done.stdout)
    assert results["verdict"] == "accepted", results["checks"]
    assert {impl["pytest_version"] for impl in results["implementations"].values()} == {"8.3.3"}
    assert results["task"]["interpreter"] and results["task"]["interpreter"] != sys.executable
    assert sorted(str(path.relative_to(task)) for path in task.rglob("*")) == before  # the venv is in the cache


def test_requirements_that_cannot_be_installed_are_one_line_and_exit_2(tmp_path):
    task = tmp_path / "unresolvable"
    write_files(
        task,
        {
            **base(PYTHONPATH_README_PIN),
            **both(),
            "requirements.txt": "concgrade-no-such-package-anywhere==1.0\n",
            "tests/test_counter.py": IMPORT_COUNTER + BODIES,
        },
    )
    done = run(str(task), "--install", "--output", str(tmp_path / "out"), cache=tmp_path / "c")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("concgrade: error: ") and "Traceback" not in done.stderr
    assert "concgrade-no-such-package-anywhere" in lines[0]
    assert not (tmp_path / "out").exists() and not (task / "reports").exists()


def test_a_property_test_decorated_by_hypothesis_is_its_files_code(tmp_path):
    """hypothesis's @given gives its wrapper the test's file and line, with code of its own making: the test it
    wraps is compared with the file's compiled code, and a task with such tests is graded as any other."""
    task = tmp_path / "properties"
    properties = (
        "from hypothesis import given, settings, strategies as st\n\n\n"
        "@settings(max_examples=20, deadline=None)\n@given(st.lists(st.integers(), max_size=5))\n"
        "def test_doubles_any_list(items):\n    assert counter.run_all(items) == [2 * x for x in items]\n\n\n"
    )
    write_files(
        task,
        {
            **base(PYTHONPATH_README_PIN),
            **both(),
            "requirements.txt": "pytest==9.0.3\nhypothesis==6.155.2\n",
            "tests/test_counter.py": IMPORT_COUNTER + properties + BODIES,
        },
    )
    done = run(str(task), "--install", "--json", "--output", str(tmp_path / "out"), cache=tmp_path / "c")
    results = json.loads(done.stdout)
    assert results["verdict"] == "accepted", [c for c in results["checks"] if c["status"] != "pass"]
    after = results["implementations"]["after"]
    assert any(t["nodeid"].endswith("test_doubles_any_list") and t["outcome"] == "passed" for t in after["tests"])


def test_an_older_python_the_harness_pip_dropped_still_gets_its_virtualenv(tmp_path):
    """pip 26 refuses Python 3.9, which a task's image may still name: the virtualenv brings its own pip then."""
    if not candidate_paths("3.9"):
        pytest.skip("no Python 3.9 on this machine (pyenv, uv or PATH)")
    version_test = "import sys\n\n\ndef test_the_image_python():\n    assert sys.version_info[:2] == (3, 9)\n\n\n"
    dataset = tmp_path / "ds"
    write_files(
        dataset / "python39",
        {
            **base(PYTHONPATH_README_PIN, dockerfile="FROM python:3.9-slim\nRUN pip install -r requirements.txt\n"),
            **both(),
            "requirements.txt": "pytest==8.3.3\n",
            "tests/test_counter.py": IMPORT_COUNTER + version_test + BODIES,
        },
    )
    done = run("dataset", str(dataset), "--install", "--json", "--output", str(tmp_path / "r"), cache=tmp_path / "c")
    (row,) = json.loads(done.stdout)["tasks"]
    assert row["verdict"] == "accepted", (row["failing_checks"], row.get("error"))
    python = row["environment"]["python"]
    assert python["version"].startswith("3.9.") and python["note"] is None
    assert row["environment"]["packages"]["pytest"] == "8.3.3"


def test_a_python_this_machine_cannot_give_is_replaced_by_the_harness_s_and_the_report_says_so(tmp_path):
    dataset = tmp_path / "ds"
    for label, image in (("unknown_python", "python:3.99-slim"), ("too_old_python", "python:2.7")):
        write_files(
            dataset / label,
            {
                **base(PYTHONPATH_README_PIN, dockerfile=f"FROM {image}\n"),
                **both(),
                "tests/test_counter.py": IMPORT_COUNTER + BODIES,
            },
        )
    done = run("dataset", str(dataset), "--install", "--json", "--output", str(tmp_path / "r"), cache=tmp_path / "c")
    rows = {row["label"]: row for row in json.loads(done.stdout)["tasks"]}
    here = ".".join(map(str, sys.version_info[:2]))
    for label, reason in (("unknown_python", "which this machine does not have"), ("too_old_python", "or newer")):
        row = rows[label]
        assert row["verdict"] == "accepted", (label, row["failing_checks"], row.get("error"))
        python = row["environment"]["python"]
        assert python["version"].startswith(here + ".") and python["requested"] in ("3.99", "2.7"), python
        assert reason in python["note"] and python["note"].endswith(f"graded on {here}"), python
        results = json.loads((tmp_path / "r" / label / "results.json").read_text())
        assert results["task"]["python"]["note"] == python["note"]
        page = html.unescape((tmp_path / "r" / label / "report.html").read_text())
        assert f"tests ran on Python {python['version']} (Dockerfile FROM python:" in page and python["note"] in page
    index = html.unescape((tmp_path / "r" / "index.html").read_text())
    assert all(rows[label]["environment"]["python"]["note"] in index for label in rows)


PYTHONPATH_README_PIN = (
    "## before\n```bash\nPYTHONPATH=repository_before pytest -q tests\n```\n"
    "## after\n```bash\nPYTHONPATH=repository_after pytest -q tests\n```\n"
)


# --- class 9: services ------------------------------------------------------------------------------------


REDIS_TEST = textwrap.dedent("""\
    import os, socket


    def test_the_service_answers():
        with socket.create_connection((os.environ["REDIS_HOST"], int(os.environ["REDIS_PORT"])), timeout=5) as s:
            s.sendall(b"PING\\r\\n")
            assert s.recv(64) == b"+PONG\\r\\n"


""")
# PostgreSQL's SSLRequest (length 8, code 80877103): a server answers one byte, N (no SSL) or S.
POSTGRES_TEST = textwrap.dedent("""\
    import os, socket, struct


    def test_the_service_answers():
        with socket.create_connection((os.environ["POSTGRES_HOST"], int(os.environ["POSTGRES_PORT"])), timeout=5) as s:
            s.sendall(struct.pack("!ii", 8, 80877103))
            assert s.recv(1) in (b"N", b"S")


""")
SERVICES = {
    "redis": ("redis:7", ("REDIS_HOST=redis", "REDIS_PORT=6379"), REDIS_TEST),
    "postgres": ("postgres:16", ("POSTGRES_HOST=db", "POSTGRES_PORT=5432"), POSTGRES_TEST),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_services_auto_starts_a_private_server_and_stops_it(tmp_path, service):
    image, variables, test = SERVICES[service]
    if not can_start(service):
        pytest.skip(missing_program(service))
    host = variables[0].split("=")[1]
    compose = f"services:\n  {host}:\n    image: {image}\n  tests:\n    depends_on: [{host}]\n    environment:\n"
    compose += "".join(f"      - {variable}\n" for variable in variables)
    dataset = tmp_path / "ds"
    write_files(
        dataset / "service_task",
        {
            **base(PYTHONPATH_README_PIN),
            **both(),
            "docker-compose.yml": compose,
            "tests/test_counter.py": IMPORT_COUNTER + test + BODIES,
        },
    )
    skipped = run("dataset", str(dataset), "--json", "--output", str(tmp_path / "r1"), cache=tmp_path / "c")
    (row,) = json.loads(skipped.stdout)["tasks"]
    assert row["verdict"] == "skipped" and "--services auto" in row["error"]
    done = run(
        "dataset", str(dataset), "--services", "auto", "--json", "--output", str(tmp_path / "r2"), cache=tmp_path / "c"
    )
    (row,) = json.loads(done.stdout)["tasks"]
    assert row["verdict"] == "accepted", (row["failing_checks"], row.get("error"))
    (started,) = row["services"]
    assert started["name"] == service and started["started"].startswith("127.0.0.1:")
    address, port = started["started"].split(":")
    with pytest.raises(OSError):  # stopped afterwards
        socket.create_connection((address, int(port)), timeout=1).close()
