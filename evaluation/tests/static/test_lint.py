"""Tests of the task-folder linter, on small tasks written into tmp_path."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from taskfactory import make_task

from concgrade.cli.check import main, render_findings
from concgrade.static.lint.checks import CHECKS, lint_task

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MANIFEST = "evaluation/concgrade.toml"
INSTANCE = {
    "instance_id": "demo__counter-1",
    "FAIL_TO_PASS": ["tests/test_f2p.py::test_runs_concurrently"],
    "PASS_TO_PASS": ["test_doubles_in_order", "test_p2p.py::test_empty"],
}


def task(tmp_path: Path, files: dict[str, str] | None = None, remove: tuple[str, ...] = ()) -> Path:
    root = make_task(tmp_path / "task", extra=files)
    for relative in remove:
        target = root / relative
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    return root


def found(root: Path, check_id: str) -> list:
    return [f for f in lint_task(root) if f.id == check_id]


def manifest(suites: str, extra: str = "") -> str:
    return f'[task]\nmodules = ["counter"]\n{extra}\n[suites]\n{suites}\n'


# Each check: a task that must raise it (files to add or replace, paths to remove), then the expected path.
FLAGGED = {
    "CL001": ({}, ("Dockerfile",), "Dockerfile"),
    "CL002": ({"trajectory/notes.txt": "x"}, ("trajectory/001_refactor.md",), "trajectory"),
    "CL003": ({"repository_after/payload.json": "{}"}, ("repository_after/counter.py",), "repository_after"),
    "CL010": ({}, (MANIFEST,), None),
    "CL011": ({"instances/demo.json": json.dumps(INSTANCE)}, (MANIFEST,), MANIFEST),
    "CL012": ({MANIFEST: "[suites\nPASS_TO_PASS = []\n"}, (), MANIFEST),
    "CL013": ({MANIFEST: '[task]\nname = "x"\n'}, (), MANIFEST),
    "CL014": ({MANIFEST: manifest('FAIL_TO_PASS = ["tests/test_f2p.py"]', "[limit]\nrun_timeout = 5\n")}, (), MANIFEST),
    "CL015": ({MANIFEST: manifest('FAIL_TO_PASS = ["tests/test_f2p.py::test_gone"]')}, (), MANIFEST),
    "CL016": ({MANIFEST: manifest('PASS_TO_PASS = ["tests/test_p2p.py"]\nFAIL_TO_PASS = []')}, (), MANIFEST),
    "CL017": (
        {"README.md": "```bash\nPYTHONPATH=repository_after pytest -q tests/test_gone.py\n```\n"},
        (MANIFEST,),
        "README.md",
    ),
    "CL019": ({MANIFEST: manifest('FAIL_TO_PASS = ["tests/test_f2p.py"]', '[toggle]\nkind = "env"\n')}, (), None),
    "CL020": ({"instances/demo.json": '{"FAIL_TO_PASS": ["a",],}'}, (), "instances/demo.json"),
    "CL021": ({"instances/demo.json": '{"PASS_TO_PASS": []}'}, (), "instances/demo.json"),
    "CL030": ({"tests/test_broken.py": "def test_x(:\n    pass\n"}, (), "tests/test_broken.py"),
    "CL040": ({"counter.py": "def run_all(items):\n    return items\n"}, (), "counter.py"),
    "CL050": (
        {
            "conftest.py": "import pytest\n@pytest.hookimpl(hookwrapper=True)\n"
            "def pytest_runtest_makereport(item, call):\n    outcome = yield\n    outcome.get_result().outcome = 'passed'\n"
        },
        (),
        "conftest.py",
    ),
    "CL051": (
        {"conftest.py": "def pytest_sessionfinish(session, exitstatus):\n    session.exitstatus = 0\n"},
        (),
        "conftest.py",
    ),
    "CL060": (
        {
            "tests/conftest.py": (
                "import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parents[1] / 'repository_after'))\n"
            )
        },
        (),
        "tests/conftest.py",
    ),
    "CL061": ({"tests/test_data.py": "DATA = '/app/data/users.json'\n"}, (), "tests/test_data.py"),
    "CL070": (
        {
            "tests/test_source.py": (
                "import inspect\nimport counter\n\n"
                "def test_uses_a_pool():\n"
                "    assert 'ThreadPoolExecutor' in inspect.getsource(counter)\n"
            )
        },
        (),
        "tests/test_source.py",
    ),
    "CL071": (
        {
            "tests/test_speed.py": "import time\n\ndef test_fast():\n    start = time.perf_counter()\n"
            "    sum(range(1000))\n    assert time.perf_counter() - start < 1.0\n"
        },
        (),
        "tests/test_speed.py",
    ),
    "CL080": ({"requirements.txt": "pytest>=8\nrequests\n"}, (), "requirements.txt"),
    "CL090": (
        {
            "tests/test_write.py": (
                "from pathlib import Path\nHERE = Path(__file__).parent\n\n"
                "def test_writes():\n    (HERE / 'out.txt').write_text('x')\n"
            )
        },
        (),
        "tests/test_write.py",
    ),
    "CL095": ({"reports/results.json": "{}"}, (), "reports"),
}

# Each check: a task that looks like it but must not raise it.
CLEAN = {
    "CL001": ({}, ()),
    "CL002": ({"trajectory/sub/notes.md": "# notes"}, ("trajectory/001_refactor.md",)),
    "CL003": ({"repository_before/pkg/__init__.py": ""}, ("repository_before/counter.py",)),
    "CL010": ({"instances/demo.json": json.dumps(INSTANCE)}, (MANIFEST,)),
    "CL011": ({"instances/demo.json": json.dumps(INSTANCE)}, ()),
    "CL012": ({MANIFEST: manifest('FAIL_TO_PASS = ["tests/test_f2p.py"]')}, ()),
    # paths that exist however written, an option's value, a glob the shell expands, a node id
    "CL017": (
        {
            "README.md": "```bash\nPYTHONPATH=repository_after pytest ./tests/ --count 3 -k fast\n"
            "PYTHONPATH=repository_before pytest tests/test_*.py /app/tests/test_f2p.py::test_runs_concurrently\n```\n"
        },
        (MANIFEST,),
    ),
    "CL013": ({MANIFEST: manifest('FAIL_TO_PASS = ["tests/test_f2p.py"]')}, ()),
    "CL014": ({MANIFEST: manifest('FAIL_TO_PASS = ["tests/test_f2p.py"]', "[constraints]\nstdlib_only = true\n")}, ()),
    "CL015": (
        {
            MANIFEST: manifest(
                'PASS_TO_PASS = ["tests/", "tests/test_p2p.py::test_empty", "tests/test_c.py::TestC::test_m[1-a::b]"]\n'
                'FAIL_TO_PASS = ["tests/test_f2p.py::test_runs_concurrently", "tests/test_c.py::TestD::test_base"]'
            ),
            "tests/test_c.py": (
                "import unittest\n"
                "class TestC:\n    def test_m(self):\n        pass\n"
                "class TestD(unittest.TestCase):\n    pass\n"
            ),
        },
        (),
    ),
    "CL016": ({}, ()),
    "CL019": ({}, ()),
    "CL020": ({"instances/demo.json": json.dumps([INSTANCE])}, ()),
    "CL021": (
        {"instances/demo.json": json.dumps({k: json.dumps(v) for k, v in INSTANCE.items() if k != "instance_id"})},
        (),
    ),
    "CL030": ({"tests/test_more.py": "def test_x():\n    pass\n"}, ()),
    "CL040": ({"tests/helpers.py": "x = 1\n", "docs/counter.md": "# counter"}, ()),
    "CL050": (
        {
            "conftest.py": (
                "import pytest\n\n"
                "@pytest.hookimpl(hookwrapper=True)\n"
                "def pytest_runtest_makereport(item, call):\n"
                "    outcome = yield\n"
                "    report = outcome.get_result()\n"
                "    if report.outcome == 'failed':\n"
                "        item.user_properties.append(('failed', True))\n"
            )
        },
        (),
    ),
    "CL051": (
        {"conftest.py": "def pytest_sessionfinish(session, exitstatus):\n    print(session.exitstatus)\n"},
        (),
    ),
    "CL060": (
        {
            "tests/conftest.py": (
                "import os, sys, pathlib\n"
                "FOLDERS = {'before': 'repository_before', 'after': 'repository_after'}\n"
                "ROOT = pathlib.Path(__file__).parents[1]\n"
                "sys.path.insert(0, str(ROOT / FOLDERS[os.environ['TEST_IMPLEMENTATION']]))\n"
            )
        },
        (),
    ),
    "CL061": ({"tests/test_data.py": "DATA = 'application/json'\n"}, ()),
    "CL070": (
        {
            "tests/test_source.py": (
                "import inspect\nimport counter\n\n"
                "def test_pool_and_result():\n"
                "    assert 'ThreadPoolExecutor' in inspect.getsource(counter)\n"
                "    assert counter.run_all([1]) == [2]\n"
            )
        },
        (),
    ),
    "CL071": (
        {
            "tests/test_speed.py": "import time\n\ndef test_sleeps():\n    time.sleep(0)\n    assert True\n\n"
            "def helper():\n    return time.perf_counter()\n"
        },
        (),
    ),
    "CL080": (
        {
            "requirements.txt": "# test deps\npytest==9.0.3  # pinned\n-r base.txt\nattrs==23.2.0 ; python_version < '3.12'\n"
        },
        (),
    ),
    "CL090": (
        {"tests/test_write.py": "def test_writes(tmp_path):\n    (tmp_path / 'out.txt').write_text('x')\n"},
        (),
    ),
    "CL095": ({"reports/results.json": "{}", ".gitignore": "reports/\n"}, ()),
}


# Raised only against a grade's results (what its runs showed): tested with them below.
NEEDS_A_GRADE = {"CL022"}


def test_every_check_has_fixtures_both_ways():
    assert set(FLAGGED) == set(CHECKS) - NEEDS_A_GRADE == set(CLEAN)


def test_fixture_task_is_clean(tmp_path):
    assert lint_task(task(tmp_path)) == []


@pytest.mark.parametrize("check_id", sorted(FLAGGED))
def test_check_flags_its_fixture(tmp_path, check_id):
    files, remove, path = FLAGGED[check_id]
    hits = found(task(tmp_path, files, remove), check_id)
    assert hits, f"{check_id} not raised"
    assert path in {h.path for h in hits}


@pytest.mark.parametrize("check_id", sorted(CLEAN))
def test_check_leaves_clean_fixture_alone(tmp_path, check_id):
    files, remove = CLEAN[check_id]
    root = task(tmp_path, files, remove)
    assert found(root, check_id) == []


def test_clean_variants_raise_nothing_at_all(tmp_path):
    # The clean fixtures are realistic tasks, not just "not this one check".
    for check_id in ("CL015", "CL021", "CL050", "CL060", "CL070", "CL080"):
        files, remove = CLEAN[check_id]
        root = task(tmp_path / check_id, files, remove)
        assert [f for f in lint_task(root) if f.severity == "error"] == [], check_id


def test_missing_folder_argument_is_one_error(tmp_path):
    (finding,) = lint_task(tmp_path / "nope")
    assert (finding.id, finding.severity) == ("CL001", "error")


def test_manifest_toml_error_has_its_line(tmp_path):
    (finding,) = found(task(tmp_path, {MANIFEST: '[task]\nname = "x"\nbroken =\n'}), "CL012")
    assert finding.line == 3


def test_invalid_instances_json_reports_line(tmp_path):
    (finding,) = found(task(tmp_path, {"instances/demo.json": '{\n  "FAIL_TO_PASS": ["a",],\n}'}), "CL020")
    assert finding.line == 2


def test_missing_node_id_points_at_its_manifest_line(tmp_path):
    text = manifest('PASS_TO_PASS = ["tests/test_p2p.py"]\nFAIL_TO_PASS = ["tests/test_f2p.py::test_gone"]')
    (finding,) = found(task(tmp_path, {MANIFEST: text}), "CL015")
    assert finding.line == text.splitlines().index('FAIL_TO_PASS = ["tests/test_f2p.py::test_gone"]') + 1
    assert "test_gone" in finding.message


def test_instance_ids_that_do_not_exist_are_warnings_and_errors_under_the_gate(tmp_path):
    instance = {**INSTANCE, "PASS_TO_PASS": ["test_nowhere", "test_p2p.py::test_empty"]}
    root = task(tmp_path, {"instances/demo.json": json.dumps(instance)}, (MANIFEST,))
    (finding,) = found(root, "CL015")
    assert finding.message == "PASS_TO_PASS entry no existing test file or test: 'test_nowhere'"
    assert finding.severity == "warning"
    assert [f.severity for f in lint_task(root, gate=True) if f.id == "CL015"] == ["error"]


def test_many_missing_entries_are_one_finding_with_a_count(tmp_path):
    instance = {**INSTANCE, "FAIL_TO_PASS": [f"tests/test_gone.py::test_{n}" for n in range(7)]}
    root = task(tmp_path, {"instances/demo.json": json.dumps(instance)}, (MANIFEST,))
    (finding,) = found(root, "CL015")
    assert finding.message.startswith("7 FAIL_TO_PASS entries name no existing test file or test: ")
    assert finding.message.endswith("and 4 more")


def test_a_manifest_suite_entry_that_names_nothing_is_an_error_in_every_mode(tmp_path):
    text = manifest('PASS_TO_PASS = ["tests/test_p2p.py"]\nFAIL_TO_PASS = ["tests/test_f2p.py::test_gone"]')
    root = task(tmp_path, {MANIFEST: text})
    assert [f.severity for f in found(root, "CL015")] == ["error"]


# Each check's level, by the rule: does it make this grade untrustworthy (error in every mode), or is it
# metadata and layout a submission must get right but the runs do not depend on (an error only under --gate)?
LEVELS = {
    "trust": {"CL012", "CL013", "CL014", "CL019", "CL030", "CL040", "CL050"},
    "hygiene": {"CL001", "CL002", "CL015", "CL016", "CL017", "CL020", "CL021", "CL022", "CL051", "CL060"},
    "advice": {"CL003", "CL010", "CL061", "CL070", "CL071", "CL080", "CL090"},
    "note": {"CL011", "CL095"},
}


def test_every_check_has_the_level_its_effect_on_a_grade_gives_it():
    assert {level: {c.id for c in CHECKS.values() if c.level == level} for level in LEVELS} == LEVELS


# CL015 and CL016 take the level of where the suites come from: a manifest's are what a grade runs (trust).
@pytest.mark.parametrize("check_id", sorted(set(FLAGGED) - {"CL015", "CL016"}))
def test_a_finding_is_an_error_in_the_plain_grade_only_when_it_makes_the_grade_untrustworthy(tmp_path, check_id):
    files, remove, _ = FLAGGED[check_id]
    root = task(tmp_path, files, remove)
    plain = {f.severity for f in found(root, check_id)}
    gated = {f.severity for f in lint_task(root, gate=True) if f.id == check_id}
    level = CHECKS[check_id].level
    assert plain == {"error" if level == "trust" else "info" if level == "note" else "warning"}, plain
    assert gated == {"error" if level in ("trust", "hygiene") else "info" if level == "note" else "warning"}


def test_an_empty_fail_to_pass_is_an_error_in_a_manifest_and_hygiene_in_an_instances_file(tmp_path):
    in_manifest = task(tmp_path / "a", {MANIFEST: manifest('PASS_TO_PASS = ["tests/test_p2p.py"]\nFAIL_TO_PASS = []')})
    assert [f.severity for f in found(in_manifest, "CL016")] == ["error"]
    empty = {"FAIL_TO_PASS": [], "PASS_TO_PASS": []}
    in_instances = task(tmp_path / "b", {"instances/instance.json": json.dumps(empty)}, (MANIFEST,))
    assert [f.severity for f in found(in_instances, "CL016")] == ["warning"]
    assert [f.severity for f in lint_task(in_instances, gate=True) if f.id == "CL016"] == ["error"]


def test_a_greenfield_before_is_a_note_not_a_problem(tmp_path):
    root = task(tmp_path, {"repository_before/.gitkeep": ""}, ("repository_before/counter.py",))
    (finding,) = found(root, "CL003")
    assert finding.severity == "info" and "greenfield" in finding.message
    shutil.rmtree(root / "repository_before")
    (finding,) = [f for f in lint_task(root, gate=True) if f.id == "CL001"]
    assert finding.severity == "info" and "greenfield" in finding.message


def test_shadow_in_tests_is_an_error_elsewhere_a_warning(tmp_path):
    root = task(tmp_path, {"tests/counter.py": "x = 1\n", "tools/counter.py": "x = 1\n"})
    assert {(f.path, f.severity) for f in found(root, "CL040")} == {
        ("tests/counter.py", "error"),
        ("tools/counter.py", "warning"),
    }


@pytest.mark.parametrize(
    "conftest",
    [
        "import pytest\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
        "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n",
        "def pytest_runtest_makereport(item, call):\n    pass\ndef pytest_report_teststatus(report):\n"
        "    setattr(report, 'outcome', 'passed')\n",
    ],
)
def test_conftest_tampering_variants(tmp_path, conftest):
    assert found(task(tmp_path, {"tests/conftest.py": conftest}), "CL050")


@pytest.mark.parametrize(
    "conftest",
    [
        "import os\ndef pytest_sessionfinish(session):\n    os._exit(0)\n",
        "def pytest_sessionfinish(session, exitstatus):\n    setattr(session, 'exitstatus', 0)\n",
        "import pytest\ndef pytest_sessionfinish(session):\n    pytest.exit('done', returncode=0)\n",
    ],
)
def test_exit_status_forcing_variants_are_cl051_not_report_tampering(tmp_path, conftest):
    root = task(tmp_path, {"tests/conftest.py": conftest})
    assert found(root, "CL051") and not found(root, "CL050")


def test_source_read_from_a_file_at_module_level_is_flagged(tmp_path):
    test = (
        "from pathlib import Path\nSOURCE = (Path(__file__).parents[1] / 'repository_after' / 'counter.py').read_text()\n\n"
        "def test_has_pool():\n    assert 'ThreadPoolExecutor' in SOURCE\n"
    )
    root = task(tmp_path, {"tests/test_grep.py": test})
    assert [f.line for f in found(root, "CL070")] == [4]


def test_a_documented_test_path_that_does_not_exist_is_named_with_its_line(tmp_path):
    readme = "# Task\n\n```bash\nPYTHONPATH=repository_before pytest tests/test_f2p.py\n"
    readme += "PYTHONPATH=repository_after pytest tests/test_p2p.py tests/test_renamed.py\n```\n"
    root = task(tmp_path, {"README.md": readme}, (MANIFEST,))
    (hit,) = found(root, "CL017")
    assert (hit.path, hit.line, hit.severity) == ("README.md", 5, "warning")
    assert "tests/test_renamed.py" in hit.message
    # With a manifest, the grade runs the suites it names, whatever the README says.
    assert found(task(tmp_path / "with_manifest", {"README.md": readme}), "CL017") == []


def test_unpinned_requirement_lines(tmp_path):
    root = task(tmp_path, {"tests/requirements-test.txt": "pytest==9.0.3\nhypothesis~=6.0\npytest-timeout==2.*\n"})
    assert [(f.path, f.line) for f in found(root, "CL080")] == [
        ("tests/requirements-test.txt", 2),
        ("tests/requirements-test.txt", 3),
    ]


# --- fixes ---------------------------------------------------------------------------------------


def test_fix_writes_manifest_from_instances_with_full_node_ids(tmp_path):
    root = task(tmp_path, {"instances/demo.json": json.dumps(INSTANCE)}, (MANIFEST,))
    findings = lint_task(root, fix=True)
    assert [(f.id, f.fixed) for f in findings] == [("CL011", True)]
    written = tomllib.loads((root / MANIFEST).read_text())
    assert written["suites"] == {
        "PASS_TO_PASS": ["tests/test_p2p.py::test_doubles_in_order", "tests/test_p2p.py::test_empty"],
        "FAIL_TO_PASS": ["tests/test_f2p.py::test_runs_concurrently"],
    }
    assert lint_task(root) == []


def test_fix_appends_suites_to_a_manifest_without_them(tmp_path):
    original = '[task]\nmodules = ["counter"]\n'
    root = task(tmp_path, {MANIFEST: original, "instances/demo.json": json.dumps(INSTANCE)})
    (finding,) = found(root, "CL013")
    assert finding.fixable
    lint_task(root, fix=True)
    text = (root / MANIFEST).read_text()
    assert text.startswith(original)  # the user's lines are kept as they were
    assert tomllib.loads(text)["suites"]["FAIL_TO_PASS"] == ["tests/test_f2p.py::test_runs_concurrently"]


def test_no_fix_when_instance_ids_are_ambiguous_or_missing(tmp_path):
    instance = {**INSTANCE, "FAIL_TO_PASS": ["test_gone"]}
    root = task(tmp_path, {"instances/demo.json": json.dumps(instance)}, (MANIFEST,))
    (finding,) = found(root, "CL011")
    assert not finding.fixable
    findings = lint_task(root, fix=True)
    assert not (root / MANIFEST).exists()
    assert not any(f.fixed for f in findings)


def test_fix_ignores_reports_and_never_touches_existing_files(tmp_path):
    root = task(tmp_path, {"reports/results.json": "{}"})
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    findings = lint_task(root, fix=True)
    assert [(f.id, f.fixed) for f in findings] == [("CL095", True)]
    assert (root / "reports" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert all(path.read_bytes() == data for path, data in before.items())
    assert lint_task(root) == []


# --- rendering and the command ---------------------------------------------------------------------


def test_render_findings_lists_errors_first_with_location_and_summary(tmp_path):
    root = task(tmp_path, {"requirements.txt": "requests\n"}, ("Dockerfile",))
    text = render_findings(lint_task(root, gate=True))
    lines = text.splitlines()
    assert lines[0].startswith("error   CL001  Dockerfile: missing file Dockerfile")
    assert lines[1].startswith("warning CL080  requirements.txt:1: 'requests' is not pinned")
    assert lines[-1] == "1 error, 1 warning, 0 info"
    assert render_findings([]) == "no findings"


def test_main_exit_codes(tmp_path, capsys):
    clean = task(tmp_path / "a")
    broken = task(tmp_path / "b", remove=("Dockerfile",))
    assert main([str(clean)]) == 0
    assert main([str(broken)]) == 0  # a missing Dockerfile is hygiene: an error under --gate only
    assert main(["--gate", str(broken)]) == 1
    assert main([str(tmp_path / "missing")]) == 2
    assert main(["--bogus", str(clean)]) == 2
    assert main([]) == 2
    assert main(["--help"]) == 0
    assert "no such folder" in capsys.readouterr().err


def test_main_json_output(tmp_path, capsys):
    root = task(tmp_path, remove=("Dockerfile",))
    assert main(["--json", "--gate", str(root)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["findings"][0] == {
        "id": "CL001",
        "severity": "error",
        "message": "missing file Dockerfile",
        "path": "Dockerfile",
        "line": None,
        "fixable": False,
        "fixed": False,
    }


def test_main_fix_returns_zero_once_everything_is_fixed(tmp_path, capsys):
    root = task(tmp_path, {"instances/demo.json": json.dumps(INSTANCE)}, (MANIFEST,))
    assert main(["--fix", str(root)]) == 0
    assert "(fixed)" in capsys.readouterr().out


def test_check_subcommand_through_the_cli(tmp_path, cli):
    root = task(tmp_path, remove=("Dockerfile",))
    result = cli("check", "--gate", str(root))
    assert result.returncode == 1, result.stderr
    assert "CL001" in result.stdout


def test_hash_continuation_lines_are_not_misread(tmp_path):
    root = task(tmp_path, {"requirements.txt": "pytest==9.0.3 \\\n    --hash=sha256:0123\nrequests>=2 \\\n"})
    assert [f.line for f in found(root, "CL080")] == [3]


@pytest.mark.parametrize("pattern", ["reports", "/reports/", "reports/*"])
def test_reports_ignored_by_any_usual_gitignore_pattern(tmp_path, pattern):
    root = task(tmp_path, {"reports/results.json": "{}", ".gitignore": f"*.pyc\n{pattern}\n"})
    assert found(root, "CL095") == []


def observed_section(file: str, corrected: dict[str, list[str]]) -> dict:
    """The `instances` section of a results.json whose runs contradict the file."""
    finding = {
        "id": "instances.f2p_passes_on_before",
        "severity": "warning",
        "message": "1 FAIL_TO_PASS tests already pass",
    }
    return {"file": file, "status": "contradicted", "corrected": corrected, "findings": [finding]}


def test_fix_writes_the_lists_the_last_grade_showed_and_keeps_the_file_as_it_was(tmp_path):
    original = json.dumps({"instance_id": "x", "FAIL_TO_PASS": json.dumps(["test_empty"]), "PASS_TO_PASS": "[]"})
    root = task(tmp_path, {"instances/instance.json": original}, (MANIFEST,))
    corrected = {
        "PASS_TO_PASS": ["tests/test_p2p.py::test_empty"],
        "FAIL_TO_PASS": ["tests/test_f2p.py::test_runs_concurrently"],
    }
    observed = observed_section("instances/instance.json", corrected)
    (finding,) = [f for f in lint_task(root, observed=observed) if f.id == "CL022"]
    assert finding.fixable and finding.severity == "warning" and "1 FAIL_TO_PASS" in finding.message
    assert [f.severity for f in lint_task(root, observed=observed, gate=True) if f.id == "CL022"] == ["error"]
    fixed = lint_task(root, fix=True, observed=observed)
    assert ("CL022", True) in [(f.id, f.fixed) for f in fixed]
    written = json.loads((root / "instances" / "instance.json").read_text())
    assert written["instance_id"] == "x"  # other keys kept; lists kept as JSON text, as the file wrote them
    assert json.loads(written["FAIL_TO_PASS"]) == corrected["FAIL_TO_PASS"]
    assert json.loads(written["PASS_TO_PASS"]) == corrected["PASS_TO_PASS"]
    assert (root / "instances" / "instance.json.orig").read_text() == original


def test_fix_rewrites_an_instances_file_that_is_not_json_keeping_its_id(tmp_path):
    broken = '{"instance_id": "demo-1", "FAIL_TO_PASS": ["a",],}'
    root = task(tmp_path, {"instances/instance.json": broken}, (MANIFEST,))
    corrected = {"PASS_TO_PASS": [], "FAIL_TO_PASS": ["tests/test_f2p.py::test_runs_concurrently"]}
    lint_task(root, fix=True, observed=observed_section("instances/instance.json", corrected))
    written = json.loads((root / "instances" / "instance.json").read_text())
    assert written == {"instance_id": "demo-1", **corrected}
    assert found(root, "CL020") == []


def test_a_grade_that_agrees_with_the_file_raises_nothing(tmp_path):
    root = task(tmp_path, {"instances/instance.json": json.dumps(INSTANCE)}, (MANIFEST,))
    agreeing = {**observed_section("instances/instance.json", {"PASS_TO_PASS": [], "FAIL_TO_PASS": []}), "findings": []}
    assert [f for f in lint_task(root, observed=agreeing) if f.id == "CL022"] == []
