"""Small fixture tasks in the shapes public dataset tasks have (written fresh here: no task's code is copied).

Each function writes one task below a dataset folder. They share the tiny counter API of taskfactory (a
sequential before, a thread-pool after), and the checks of datasetfactory: results in order (passes on
both) and "the work leaves the main thread" (fails on before, passes on after), deterministic and fast.
What differs is how the task is laid out, toggled, described and run, as the public tasks do it.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

from datasetfactory import F2P_BODY, P2P_BODY
from taskfactory import CONCURRENT, SEQUENTIAL, write_files

BODIES = P2P_BODY + "\n\n" + F2P_BODY
IMPORT_COUNTER = "import counter\n\n\n"


def base(readme: str = "# A task\n", dockerfile: str = "FROM python:3.11-slim\n") -> dict[str, str]:
    return {"trajectory/notes.md": "# Notes\n", "Dockerfile": dockerfile, "README.md": readme}


def both(before: str = SEQUENTIAL, after: str = CONCURRENT, name: str = "counter.py") -> dict[str, str]:
    return {f"repository_before/{name}": before, f"repository_after/{name}": after}


PYTHONPATH_README = (
    "## before\n```bash\nPYTHONPATH=repository_before pytest -q tests\n```\n"
    "## after\n```bash\nPYTHONPATH=repository_after pytest -q tests\n```\n"
)


# --- greenfield (class 2) ---------------------------------------------------------------------------------


def greenfield_gitkeep() -> dict[str, str]:
    """before holds only .gitkeep; PYTHONPATH documented for after only: before fails collection."""
    readme = "```bash\nPYTHONPATH=/app/repository_after pytest -q tests\n```\n"
    return {
        **base(readme),
        "repository_before/.gitkeep": "",
        "repository_after/counter.py": CONCURRENT,
        "tests/test_counter.py": IMPORT_COUNTER + BODIES,
    }


def greenfield_absent() -> dict[str, str]:
    """No before folder at all; the tests import repository_after as a package."""
    return {
        **base(),
        "repository_after/__init__.py": "",
        "repository_after/counter.py": CONCURRENT,
        "tests/test_counter.py": "from repository_after import counter\n\n\n" + BODIES,
    }


def greenfield_hardcoded() -> dict[str, str]:
    """before holds only __init__.py; nothing selects an implementation and the tests put after on the path."""
    tests = (
        "import sys, pathlib\n"
        "sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / 'repository_after'))\n"
        "import counter\n\n\n" + BODIES
    )
    return {
        **base(),
        "repository_before/__init__.py": "",
        "repository_after/counter.py": CONCURRENT,
        "tests/test_counter.py": tests,
    }


def demo_services_hardcoded() -> dict[str, str]:
    """Compose services `before` and `after` run each implementation as a program; the tests service runs
    `pytest -q tests`, whose tests put after on the path: a demo selects no tests, and before cannot be selected."""
    compose = """\
        services:
          before:
            command: python repository_before/counter.py
          after:
            command: python repository_after/counter.py
          tests:
            command: pytest -q tests
    """
    tests = (
        "import sys, pathlib\n"
        "sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / 'repository_after'))\n"
        "import counter\n\n\n" + BODIES
    )
    demo = "\n\nif __name__ == '__main__':\n    print(run_all([1, 2, 3]))\n"
    return {
        **base(),
        **both(before=SEQUENTIAL + demo, after=CONCURRENT + demo),
        "docker-compose.yml": compose,
        "tests/test_counter.py": tests,
    }


def greenfield_falls_back_to_after() -> dict[str, str]:
    """A documented `--repo before` whose conftest falls back to after when before has nothing to import."""
    conftest = """\
        import pathlib, sys


        def pytest_addoption(parser):
            parser.addoption("--repo", action="store", default="after", help="before or after")


        def pytest_configure(config):
            root = pathlib.Path(__file__).resolve().parents[1]
            chosen = root / f"repository_{config.getoption('--repo')}"
            if not (chosen / "counter.py").exists():
                chosen = root / "repository_after"  # nothing to import there: use what exists
            sys.path.insert(0, str(chosen))
    """
    readme = "```bash\npytest tests --repo before\npytest tests --repo after\n```\n"
    return {
        **base(readme),
        "repository_before/.gitkeep": "",
        "repository_after/counter.py": CONCURRENT,
        "tests/conftest.py": conftest,
        "tests/test_counter.py": IMPORT_COUNTER + BODIES,
    }


# --- what the tests import (class 3 and the import proof) ------------------------------------------------


def equivalence() -> dict[str, str]:
    """PYTHONPATH toggles `counter`; an equivalence test also imports both packages by name, on purpose."""
    equivalent = """\
        from repository_after import counter as after
        from repository_before import counter as before


        def test_same_results():
            assert before.run_all([1, 2, 3]) == after.run_all([1, 2, 3])
    """
    return {
        **base(PYTHONPATH_README),
        **both(),
        "repository_before/__init__.py": "",
        "repository_after/__init__.py": "",
        "tests/test_counter.py": IMPORT_COUNTER + BODIES,
        "tests/test_equivalence.py": equivalent,
    }


LOAD_BY_PATH = textwrap.dedent("""\
    import importlib.util, os, pathlib

    ROOT = pathlib.Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("under_test", ROOT / os.environ["TARGET"] / "counter.py")
    counter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(counter)


""")


def loaded_by_path() -> dict[str, str]:
    """The tests load the implementation with spec_from_file_location under a name of their own."""
    compose = """\
        services:
          test-before:
            environment:
              - TARGET=repository_before
            command: pytest -q tests
          test-after:
            environment:
              - TARGET=repository_after
            command: pytest -q tests
    """
    return {**base(), **both(), "docker-compose.yml": compose, "tests/test_counter.py": LOAD_BY_PATH + BODIES}


def pythonpath_read_as_a_folder() -> dict[str, str]:
    """The tests read PYTHONPATH as one folder and run the implementation's file from it, falling back to
    after's when the variable names no such file: the toggle works only if the variable is the task's alone."""
    tests = """\
        import importlib.util, os, pathlib, subprocess, sys

        ROOT = pathlib.Path(__file__).resolve().parents[1]


        def implementation_file():
            named = pathlib.Path(os.environ.get("PYTHONPATH", "")) / "counter.py"
            return named if named.exists() else ROOT / "repository_after" / "counter.py"


        spec = importlib.util.spec_from_file_location("counter_under_test", implementation_file())
        counter = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(counter)


        def test_runs_as_a_program():
            subprocess.run([sys.executable, str(implementation_file())], check=True)
    """
    compose = """\
        services:
          test-before:
            environment:
              - PYTHONPATH=/app/repository_before
            command: pytest -q tests
          test-after:
            environment:
              - PYTHONPATH=/app/repository_after
            command: pytest -q tests
    """
    return {
        **base(),
        **both(),
        "docker-compose.yml": compose,
        "tests/test_counter.py": textwrap.dedent(tests) + "\n\n" + BODIES,
    }


def quiet_status_hook() -> dict[str, str]:
    """The conftest quiets the terminal with a `pytest_report_teststatus` that gives every report an empty
    status (a summary of its own at the end): pytest still counts before's failure, and so must a grade."""
    conftest = """\
        def pytest_report_teststatus(report, config):
            return "", "", ""
    """
    return {
        **base(PYTHONPATH_README),
        **both(),
        "tests/conftest.py": conftest,
        "tests/test_counter.py": IMPORT_COUNTER + BODIES,
    }


def namespace_src() -> dict[str, str]:
    """A `src/` namespace layout (no __init__.py) selected by a relative variable value."""
    tests = textwrap.dedent("""\
        import os, pathlib, sys

        ROOT = pathlib.Path(__file__).resolve().parents[1]
        sys.path.insert(0, str(ROOT / os.environ["REPO_UNDER_TEST"] / "src"))
        from engine import counter


    """)
    readme = (
        "```bash\nREPO_UNDER_TEST=repository_before pytest tests\n```\n"
        "```bash\nREPO_UNDER_TEST=repository_after pytest tests\n```\n"
    )
    return {**base(readme), **both(name="src/engine/counter.py"), "tests/test_counter.py": tests + BODIES}


def meta_subprocess() -> dict[str, str]:
    """A meta task: after holds a test suite; the task's test runs it in a child pytest with PYTHONPATH replaced."""
    suite = """\
        from counter import run_all


        def test_doubles():
            assert run_all([1, 2]) == [2, 4]
    """
    meta = """\
        import os, pathlib, subprocess, sys

        ROOT = pathlib.Path(__file__).resolve().parents[1]


        def test_the_suite_passes():
            repo = ROOT / os.environ.get("TEST_REPO_DIR", "repository_after")
            env = {**os.environ, "PYTHONPATH": str(repo)}
            done = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(repo / "test_suite.py")],
                env=env, capture_output=True, text=True, cwd=str(ROOT),
            )
            assert done.returncode == 0, done.stdout
    """
    compose = """\
        services:
          tests:
            environment:
              - TEST_REPO_DIR=repository_after
            command: pytest -q tests/test_meta.py
          test-before:
            environment:
              - TEST_REPO_DIR=repository_before
            command: pytest -q tests/test_meta.py
    """
    return {
        **base(),
        "repository_before/counter.py": CONCURRENT,
        "repository_after/counter.py": CONCURRENT,
        "repository_after/test_suite.py": suite,
        "docker-compose.yml": compose,
        "tests/test_meta.py": meta,
    }


# --- metadata that is wrong (class 4) ---------------------------------------------------------------------


def metadata(instance: str) -> Callable[[], dict[str, str]]:
    """A good PYTHONPATH task whose instances/instance.json is `instance` (as written)."""

    def task() -> dict[str, str]:
        return {
            **base(PYTHONPATH_README),
            **both(),
            "tests/test_counter.py": IMPORT_COUNTER + BODIES,
            "instances/instance.json": instance,
        }

    task.__name__ = "metadata"
    return task


EMPTY_LISTS = json.dumps({"instance_id": "x", "FAIL_TO_PASS": [], "PASS_TO_PASS": []})
NOT_JSON = '{"instance_id": "x", "FAIL_TO_PASS": ["test_work_leaves_the_main_thread",],}'
NO_SUCH_TESTS = json.dumps(
    {"FAIL_TO_PASS": ["tests/test_other_task.py::test_gone"], "PASS_TO_PASS": ["tests/test_other_task.py"]}
)
CLASS_NAMES = json.dumps({"FAIL_TO_PASS": ["TestCounter::test_work_leaves_the_main_thread"], "PASS_TO_PASS": []})
P2P_AS_F2P = json.dumps(
    {"FAIL_TO_PASS": ["test_doubles_in_order", "tests/test_counter.py::test_work_leaves_the_main_thread"]}
)


def class_names() -> dict[str, str]:
    """Instance entries written `Class::test`, without their file."""
    body = textwrap.indent(BODIES.replace("(monkeypatch)", "(self, monkeypatch)").replace("():", "(self):"), "    ")
    return {
        **base(PYTHONPATH_README),
        **both(),
        "tests/test_counter.py": IMPORT_COUNTER + "class TestCounter:\n" + body,
        "instances/instance.json": CLASS_NAMES,
    }


# --- toggles seen in the wild (class 5) -------------------------------------------------------------------


def working_folder() -> dict[str, str]:
    """`cd repository_before && python -m pytest ../tests/...`: the working folder selects the implementation."""
    readme = (
        "## before\n```bash\ndocker compose run --rm app bash -c 'cd repository_before && python -m pytest "
        "../tests/test_counter.py -q || true'\n```\n"
        "## after\n```bash\ndocker compose run --rm app bash -c 'cd repository_after && python -m pytest "
        "../tests/test_counter.py -q --tb=no -r no'\n```\n"
    )
    return {**base(readme), **both(), "tests/test_counter.py": IMPORT_COUNTER + BODIES}


def keyword_cases() -> dict[str, str]:
    """One parametrized test, `-k before` / `-k after`: the two cases' ids differ beyond the word."""
    tests = """\
        import importlib.util, pathlib, threading

        import pytest

        ROOT = pathlib.Path(__file__).resolve().parents[1]


        def load(folder):
            spec = importlib.util.spec_from_file_location(f"counter_{folder}", ROOT / folder / "counter.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module


        @pytest.mark.parametrize("impl, pooled", [("before", False), ("after", True)])
        def test_work_leaves_the_main_thread(impl, pooled, monkeypatch):
            counter = load(f"repository_{impl}")
            seen = []
            original = counter.work
            monkeypatch.setattr(counter, "work", lambda x: seen.append(threading.current_thread()) or original(x))
            counter.run_all([1, 2])
            assert all(t is not threading.main_thread() for t in seen)
    """
    compose = """\
        services:
          test-before:
            command: sh -c "python -m pytest tests/ -v -k before || exit 0"
          test-after:
            command: python -m pytest tests/ -v -k after
    """
    return {**base(), **both(), "docker-compose.yml": compose, "tests/test_counter.py": tests}


def files_with_an_unused_option() -> dict[str, str]:
    """test_before.py / test_after.py per implementation; the conftest adds a `--target` option no test reads."""
    conftest = (
        'def pytest_addoption(parser):\n    parser.addoption("--target", default="after", help="before or after")\n'
    )
    tests = {
        f"tests/test_{role}.py": f"from repository_{role} import counter\n\n\n" + BODIES for role in ("before", "after")
    }
    readme = "```bash\npython -m pytest tests/test_before.py -v\n```\n```bash\npython -m pytest tests/test_after.py -v\n```\n"
    return {
        **base(readme),
        **both(),
        "repository_before/__init__.py": "",
        "repository_after/__init__.py": "",
        "tests/conftest.py": conftest,
        **tests,
    }


def variable_for_some_files() -> dict[str, str]:
    """TARGET_FILE steers one test file; the others import repository_after directly (they pass on both)."""
    steered = LOAD_BY_PATH.replace('os.environ["TARGET"] / "counter.py"', 'os.environ["TARGET_FILE"]') + F2P_BODY
    compose = """\
        services:
          test:
            environment:
              - TARGET_FILE=repository_after/counter.py
            command: pytest -q tests
          test-before:
            environment:
              - TARGET_FILE=repository_before/counter.py
            command: pytest -q tests
    """
    return {
        **base(),
        **both(),
        "repository_after/__init__.py": "",
        "docker-compose.yml": compose,
        "tests/test_steered.py": steered,
        "tests/test_fixed.py": "from repository_after import counter\n\n\n" + P2P_BODY,
    }


def path_value() -> dict[str, str]:
    """A variable holding the container's absolute path (/app/repository_before); the artifact is JSON data."""
    tests = """\
        import json, os, pathlib


        def payload():
            return json.loads((pathlib.Path(os.environ["PAYLOAD_DIR"]) / "payload.json").read_text())


        def test_has_a_name():
            assert payload()["name"] == "job"


        def test_is_batched():
            assert payload()["batch"] is True
    """
    compose = """\
        services:
          test-before:
            environment:
              - PAYLOAD_DIR=/app/repository_before
            command: pytest -q tests
          test-after:
            environment:
              - PAYLOAD_DIR=/app/repository_after
            command: pytest -q tests
    """
    return {
        **base(),
        "repository_before/payload.json": json.dumps({"name": "job", "batch": False}),
        "repository_after/payload.json": json.dumps({"name": "job", "batch": True}),
        "docker-compose.yml": compose,
        "tests/test_payload.py": tests,
    }


def relative_value() -> dict[str, str]:
    """The tests compare the variable with the folder's name, literally: a relative value is kept as written."""
    conftest = """\
        import os, pathlib, sys

        REPO = os.environ.get("REPO", "repository_after")
        if REPO not in ("repository_before", "repository_after"):
            raise RuntimeError(f"REPO must name a folder, not {REPO!r}")
        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / REPO))
    """
    readme = "```bash\nREPO=repository_before pytest tests\nREPO=repository_after pytest tests\n```\n"
    return {**base(readme), **both(), "tests/conftest.py": conftest, "tests/test_counter.py": IMPORT_COUNTER + BODIES}


def unittest_suite() -> dict[str, str]:
    """unittest TestCases run with `python -m unittest discover`, the folder from a `-e` variable."""
    tests = """\
        import os, pathlib, sys, threading, unittest

        sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / os.environ.get("REPO_PATH", "repository_after")))
        import counter


        class CounterTest(unittest.TestCase):
            def test_doubles_in_order(self):
                self.assertEqual(counter.run_all([1, 2, 3]), [2, 4, 6])

            def test_work_leaves_the_main_thread(self):
                seen = []
                original = counter.work
                counter.work = lambda x: seen.append(threading.current_thread()) or original(x)
                try:
                    counter.run_all([1, 2])
                finally:
                    counter.work = original
                self.assertTrue(seen and all(t is not threading.main_thread() for t in seen))
    """
    readme = (
        "**Test repository_before**\n```bash\ndocker compose run --rm -e REPO_PATH=repository_before app "
        'bash -c "python -m unittest discover -s tests -p test_*.py -v"\n```\n'
        "**Test repository_after**\n```bash\ndocker compose run --rm -e REPO_PATH=repository_after app "
        'bash -c "python -m unittest discover -s tests -p test_*.py -v"\n```\n'
    )
    return {**base(readme), **both(), "tests/test_counter.py": tests}


def runner_script() -> dict[str, str]:
    """The documented command is a unittest script; another test file beside it is not part of the task's run."""
    script = """\
        import os, pathlib, sys, threading, unittest

        ROOT = pathlib.Path(__file__).resolve().parents[1]
        sys.path.insert(0, str(ROOT / ("repository_" + os.environ.get("TEST_TARGET", "after"))))
        import counter


        class Unified(unittest.TestCase):
            def test_doubles_in_order(self):
                self.assertEqual(counter.run_all([1, 2, 3]), [2, 4, 6])

            def test_work_leaves_the_main_thread(self):
                seen = []
                original = counter.work
                counter.work = lambda x: seen.append(threading.current_thread()) or original(x)
                try:
                    counter.run_all([1, 2])
                finally:
                    counter.work = original
                self.assertTrue(seen and all(t is not threading.main_thread() for t in seen))


        if __name__ == "__main__":
            unittest.main(verbosity=0)
    """
    compose = """\
        services:
          before:
            environment:
              - TEST_TARGET=before
          after:
            environment:
              - TEST_TARGET=after
    """
    return {
        **base(dockerfile='FROM python:3.11-slim\nENTRYPOINT ["bash", "./run_suite.sh"]\n'),
        **both(),
        "docker-compose.yml": compose,
        "run_suite.sh": "#!/bin/bash\npython tests/unified_test.py\n",
        "tests/unified_test.py": script,
        "tests/test_scratch.py": "def test_unfinished():\n    assert False, 'not part of the documented run'\n",
    }


def xfailed_baseline_file() -> dict[str, str]:
    """before's documented command runs a baseline file of its own whose tests all xfail; after's runs the rest
    (`-k "not Baseline"`): nothing on before fails, so nothing shows a fix."""
    compose = """\
        services:
          test-before:
            command: pytest tests/test_baseline.py
          test-after:
            command: pytest tests -k "not Baseline"
    """
    baseline = """\
        import pathlib, sys

        import pytest

        sys.path.append(str(pathlib.Path(__file__).resolve().parents[1] / "repository_before"))
        import counter


        class TestBaseline:
            @pytest.mark.xfail(reason="the original runs on the main thread")
            def test_work_leaves_the_main_thread_legacy(self):
                assert False

            @pytest.mark.xfail(reason="the original has no pool")
            def test_pool_missing(self):  # xpasses where after is on the path: only before's command runs it
                assert "ThreadPoolExecutor" in dir(counter)
    """
    tests = (
        "import sys, pathlib\n"
        "sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / 'repository_after'))\n"
        "import counter\n\n\n" + BODIES
    )
    return {
        **base(),
        **both(),
        "docker-compose.yml": compose,
        "tests/test_baseline.py": baseline,
        "tests/test_counter.py": tests,
    }


def shared_variable() -> dict[str, str]:
    """Both compose services set WEBHOOK_SECRET beside the toggle; after's module needs it at import."""
    after = "import os\n\nSECRET = os.environ['WEBHOOK_SECRET']\n" + CONCURRENT
    compose = """\
        services:
          test-before:
            environment:
              - TARGET_REPOSITORY=repository_before
              - WEBHOOK_SECRET=test-secret
            command: pytest -v tests
          test-after:
            environment:
              - TARGET_REPOSITORY=repository_after
              - WEBHOOK_SECRET=test-secret
            command: pytest -v tests
    """
    tests = (
        "import importlib, os\n\ncounter = importlib.import_module(os.environ['TARGET_REPOSITORY'] + '.counter')\n\n\n"
    )
    return {
        **base(),
        **both(after=after),
        "repository_before/__init__.py": "",
        "repository_after/__init__.py": "",
        "docker-compose.yml": compose,
        "tests/test_counter.py": tests + BODIES,
    }


# --- exit status that lies (class 6) ----------------------------------------------------------------------


def forced_exit_status() -> dict[str, str]:
    """The conftest sets session.exitstatus = 0: before exits 0 with a failing test."""
    conftest = "def pytest_sessionfinish(session, exitstatus):\n    session.exitstatus = 0\n"
    return {
        **base(PYTHONPATH_README),
        **both(),
        "tests/conftest.py": conftest,
        "tests/test_counter.py": IMPORT_COUNTER + BODIES,
    }


def xfail_on_before_declared() -> dict[str, str]:
    """A manifest's FAIL_TO_PASS test calls pytest.xfail() on before: it did not pass there."""
    manifest = """\
        [suites]
        PASS_TO_PASS = ["tests/test_counter.py::test_doubles_in_order"]
        FAIL_TO_PASS = ["tests/test_counter.py::test_work_leaves_the_main_thread"]
    """
    body = F2P_BODY.replace(
        "    import threading\n",
        "    import threading\n\n    if 'ThreadPoolExecutor' not in dir(counter):\n        pytest.xfail('sequential')\n",
    )
    return {
        **base(),
        **both(),
        "evaluation/concgrade.toml": manifest,
        "tests/test_counter.py": "import pytest\n" + IMPORT_COUNTER + P2P_BODY + "\n\n" + body,
    }


def skipped_and_xpassed_on_before() -> dict[str, str]:
    """On before the would-be FAIL_TO_PASS tests skip or xpass; nothing fails there: no evidence of a fix."""
    tests = """\
        import pytest

        import counter

        SEQUENTIAL = "ThreadPoolExecutor" not in dir(counter)


        def test_doubles_in_order():
            assert counter.run_all([1, 2, 3]) == [2, 4, 6]


        @pytest.mark.skipif(SEQUENTIAL, reason="not on the original")
        def test_uses_a_pool():
            assert "ThreadPoolExecutor" in dir(counter)


        @pytest.mark.xfail(SEQUENTIAL, reason="expected to fail on the original")
        def test_still_doubles():
            assert counter.run_all([2]) == [4]
    """
    return {**base(PYTHONPATH_README), **both(), "tests/test_counter.py": tests}


def subtests() -> dict[str, str]:
    """unittest subTest: a failing subtest on before fails its test (pytest 9 reports the test itself as passed)."""
    tests = """\
        import threading, unittest

        import counter


        class Counting(unittest.TestCase):
            def test_each_input(self):
                for items in ([1], [1, 2], [1, 2, 3]):
                    with self.subTest(items=items):
                        self.assertEqual(counter.run_all(items), [2 * x for x in items])

            def test_pool_for_each_size(self):
                for size in (1, 2):
                    with self.subTest(size=size):
                        seen = []
                        original = counter.work
                        counter.work = lambda x: seen.append(threading.current_thread()) or original(x)
                        try:
                            counter.run_all(list(range(size)))
                        finally:
                            counter.work = original
                        self.assertTrue(all(t is not threading.main_thread() for t in seen))
    """
    return {**base(PYTHONPATH_README), **both(), "tests/test_counter.py": tests}


# --- a task whose own after fails (class 7) ---------------------------------------------------------------


def removed_hook_argument() -> dict[str, str]:
    """A root conftest hook with the `startdir` argument pytest 8 removed: pytest stops on both sides."""
    conftest = "def pytest_report_collectionfinish(config, start_path, startdir, items):\n    return []\n"
    return {
        **base(PYTHONPATH_README),
        **both(),
        "conftest.py": conftest,
        "tests/test_counter.py": IMPORT_COUNTER + BODIES,
    }


def stray_test_in_after() -> dict[str, str]:
    """The documented command runs pytest from the root, which also collects a broken test file of after's."""
    readme = (
        "## before\n```bash\nPYTHONPATH=repository_before pytest -q\n```\n"
        "## after\n```bash\nPYTHONPATH=repository_after pytest -q\n```\n"
    )
    return {
        **base(readme),
        **both(),
        "repository_after/test_leftover.py": "from no_such_module import thing\n\n\ndef test_thing():\n    assert thing\n",
        "tests/test_counter.py": IMPORT_COUNTER + BODIES,
    }


# Longer than the default per-test timeout (20 s), on purpose: the task's own command sets no timeout at all.
LONG_WORKLOAD_SECONDS = 22

LONG_WORKLOAD_BODY = f"""\
def test_a_long_workload_with_pollers(monkeypatch):
    import threading, time

    seen = []
    original = counter.work
    monkeypatch.setattr(counter, "work", lambda x: seen.append(threading.current_thread().name) or original(x))
    counter.run_all([1])
    assert threading.main_thread().name not in seen  # the sequential before fails here, at once
    monkeypatch.undo()
    done = False
    polls = []

    def poll():
        while not done:  # spins until the workload ends: a test stopped midway leaves it running
            polls.append(1)
            time.sleep(0.001)

    pollers = [threading.Thread(target=poll) for _ in range(2)]
    for poller in pollers:
        poller.start()
    deadline = time.monotonic() + {LONG_WORKLOAD_SECONDS}
    while time.monotonic() < deadline:
        assert counter.run_all([1, 2, 3, 4]) == [2, 4, 6, 8]
    done = True
    for poller in pollers:
        poller.join()
    assert polls
"""


def long_workload() -> dict[str, str]:
    """A test that legitimately runs longer than the default per-test timeout, and whose polling threads only
    stop when it ends; the documented commands set no timeout, so after passes everything."""
    return {
        **base(PYTHONPATH_README),
        **both(),
        "tests/__init__.py": "",
        "tests/test_counter.py": IMPORT_COUNTER + BODIES + "\n\n" + LONG_WORKLOAD_BODY,
    }


SLOW_REPORT_TEST = """

def test_a_report_takes_three_seconds():
    time.sleep(3)
    assert counter.run_all([1]) == [2]
"""


def own_timeout(readme: str = PYTHONPATH_README, config: dict[str, str] | None = None) -> dict[str, str]:
    """A test that takes 3 s, in a task that sets pytest-timeout itself (in a config file or its commands)."""
    return {
        **base(readme),
        **both(),
        **(config or {}),
        "tests/test_counter.py": "import time\n" + IMPORT_COUNTER + BODIES + SLOW_REPORT_TEST,
    }


def own_timeout_ini() -> dict[str, str]:
    """pytest.ini gives each test 1 s: the 3 s test fails on both, by the task's own commands."""
    return own_timeout(config={"pytest.ini": "[pytest]\ntimeout = 1\n"})


def own_timeout_documented() -> dict[str, str]:
    """The documented commands give each test 1 s (`--timeout 1`, its value a word of its own)."""
    readme = PYTHONPATH_README.replace("pytest -q tests", "pytest -q tests --timeout 1")
    return own_timeout(readme)


def own_timeout_generous() -> dict[str, str]:
    """The ini's 1 s is overridden by its own addopts' 30 s, as pytest does: the 3 s test passes."""
    ini = '[tool.pytest.ini_options]\ntimeout = 1\naddopts = "-q --timeout=30"\n'
    return own_timeout(config={"pyproject.toml": ini})


PLAIN = {
    "greenfield_gitkeep": (greenfield_gitkeep, "accepted"),
    "greenfield_absent": (greenfield_absent, "accepted"),
    "greenfield_hardcoded": (greenfield_hardcoded, "accepted"),
    "greenfield_falls_back": (greenfield_falls_back_to_after, "rejected"),
    "demo_services": (demo_services_hardcoded, "accepted"),
    "equivalence": (equivalence, "accepted"),
    "loaded_by_path": (loaded_by_path, "accepted"),
    "namespace_src": (namespace_src, "accepted"),
    "pythonpath_as_folder": (pythonpath_read_as_a_folder, "accepted"),
    "quiet_status_hook": (quiet_status_hook, "accepted"),
    "meta_subprocess": (meta_subprocess, "accepted"),
    "metadata_empty": (metadata(EMPTY_LISTS), "accepted"),
    "metadata_not_json": (metadata(NOT_JSON), "accepted"),
    "metadata_no_such_tests": (metadata(NO_SUCH_TESTS), "accepted"),
    "metadata_p2p_as_f2p": (metadata(P2P_AS_F2P), "accepted"),
    "metadata_class_names": (class_names, "accepted"),
    "working_folder": (working_folder, "accepted"),
    "keyword_cases": (keyword_cases, "accepted"),
    "files_unused_option": (files_with_an_unused_option, "accepted"),
    "variable_some_files": (variable_for_some_files, "accepted"),
    "path_value": (path_value, "accepted"),
    "relative_value": (relative_value, "accepted"),
    "unittest_suite": (unittest_suite, "accepted"),
    "runner_script": (runner_script, "accepted"),
    "shared_variable": (shared_variable, "accepted"),
    "xfailed_baseline_file": (xfailed_baseline_file, "rejected"),
    "forced_exit_status": (forced_exit_status, "accepted"),
    "xfail_on_before": (xfail_on_before_declared, "accepted"),
    "skipped_xpassed": (skipped_and_xpassed_on_before, "rejected"),
    "subtests": (subtests, "accepted"),
    "removed_hook": (removed_hook_argument, "rejected"),
    "stray_test_in_after": (stray_test_in_after, "rejected"),
    "long_workload": (long_workload, "accepted"),
    "own_timeout_ini": (own_timeout_ini, "rejected"),
    "own_timeout_documented": (own_timeout_documented, "rejected"),
    "own_timeout_generous": (own_timeout_generous, "accepted"),
}


def make_wild_dataset(root: Path, tasks: dict[str, tuple[Callable[[], dict[str, str]], str]] = PLAIN) -> Path:
    for label, (files, _) in tasks.items():
        write_files(root / label, files())
    return root
