"""A fixture dataset written into a temporary folder: tasks as people write them, one per convention.

Every task has the same tiny API (`counter.run_all`) in a sequential before and a thread-pool after,
one PASS_TO_PASS check (results in order) and one FAIL_TO_PASS check (the work leaves the main
thread: deterministic, no timing). What differs is how each task selects its implementation and
what it declares about its suites.
"""

from __future__ import annotations

import json
from pathlib import Path

from taskfactory import CONCURRENT, SEQUENTIAL, make_task, write_files

P2P_BODY = """\
def test_doubles_in_order():
    assert counter.run_all([1, 2, 3]) == [2, 4, 6]
"""

F2P_BODY = """\
def test_work_leaves_the_main_thread(monkeypatch):
    import threading

    seen = []
    original = counter.work

    def spy(x):
        seen.append(threading.current_thread() is threading.main_thread())
        return original(x)

    monkeypatch.setattr(counter, "work", spy)
    assert counter.run_all([1, 2, 3]) == [2, 4, 6]
    assert seen and not any(seen)
"""

TESTS = "import counter\n\n\n" + P2P_BODY + "\n\n" + F2P_BODY

# What each task of the dataset should come out as, and how its toggle is found.
EXPECTED = {
    "pythonpath_task": ("accepted", "pythonpath", "inferred"),
    "env_task": ("accepted", "env", "inferred"),
    # Wrong metadata is not a wrong task: the plain grade judges what the runs show, and says what is wrong.
    "option_task": ("accepted", "option", "inferred"),  # the instances file is not JSON (CL020, a warning)
    "selection_task": ("accepted", "selection", "inferred"),  # its instances file lists a P2P test as F2P
    "keyword_task": ("accepted", "selection", "inferred"),
    "package_task": ("accepted", "package", "inferred"),
    "manifest_task": ("rejected", "pythonpath", "manifest"),
    "install_fails": ("error", None, None),
    "needs_redis": ("skipped", None, None),
}


def implementations(root: Path, package: bool = False) -> dict[str, str]:
    """Both implementations, and the files every task has (a README that names no command, by default)."""
    init = {"repository_before/__init__.py": "", "repository_after/__init__.py": ""} if package else {}
    return {
        "repository_before/counter.py": SEQUENTIAL,
        "repository_after/counter.py": CONCURRENT,
        **init,
        "trajectory/001_refactor.md": "# Refactor\n\nA pool of four threads.\n",
        "Dockerfile": "FROM python:3.11-slim\n",
        "README.md": "# A fixture task\n",
    }


def pythonpath_task(root: Path) -> Path:
    """PYTHONPATH in the README; instances with a full node id and a bare name."""
    write_files(
        root,
        {
            **implementations(root),
            "tests/test_counter.py": TESTS,
            "README.md": "# Task\n\n```bash\nPYTHONPATH=repository_before pytest tests\n"
            "PYTHONPATH=repository_after pytest tests\n```\n",
            "instances/instance.json": json.dumps(
                {
                    "instance_id": "pythonpath_task",
                    "FAIL_TO_PASS": ["tests/test_counter.py::test_work_leaves_the_main_thread"],
                    "PASS_TO_PASS": json.dumps(["test_doubles_in_order"]),  # SWE-bench: JSON text inside JSON
                }
            ),
        },
    )
    return root


def env_task(root: Path) -> Path:
    """A named variable with arbitrary values, set per service in docker-compose.yml; no instances file."""
    write_files(
        root,
        {
            **implementations(root),
            "tests/conftest.py": "import os, sys\n\n"
            "FOLDERS = {'legacy': 'repository_before', 'modern': 'repository_after'}\n"
            "ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n"
            "sys.path.insert(0, os.path.join(ROOT, FOLDERS[os.environ['TEST_IMPLEMENTATION']]))\n",
            "tests/test_counter.py": TESTS,
            "docker-compose.yml": "services:\n"
            "  tests-before:\n    build: .\n    environment:\n      - TEST_IMPLEMENTATION=legacy\n"
            "    command: pytest -q tests\n"
            "  tests-after:\n    build: .\n    environment:\n      TEST_IMPLEMENTATION: modern\n"
            '    command: ["pytest", "-q", "tests"]\n',
        },
    )
    return root


def option_task(root: Path) -> Path:
    """A pytest option added by the conftest (`--repo before`); an instances file that is not JSON."""
    write_files(
        root,
        {
            **implementations(root),
            "tests/conftest.py": "import os, sys\n\n\ndef pytest_addoption(parser):\n"
            "    parser.addoption('--repo', action='store', default='after', help='before or after')\n\n\n"
            "def pytest_configure(config):\n"
            "    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n"
            "    sys.path.insert(0, os.path.join(root, 'repository_' + config.getoption('--repo')))\n",
            "tests/test_counter.py": TESTS,
            "README.md": "Run `pytest tests --repo before` for the original and `pytest tests --repo after`.\n",
            "instances/instance.json": '{"FAIL_TO_PASS": ["test_work_leaves_the_main_thread",',
        },
    )
    return root


def selection_task(root: Path) -> Path:
    """A test file per implementation; an instances file that the runs contradict (P2P listed as F2P)."""
    tests = {
        f"tests/test_{role}.py": f"from repository_{role} import counter\n\n\n" + P2P_BODY + "\n\n" + F2P_BODY
        for role in ("before", "after")
    }
    write_files(
        root,
        {
            **implementations(root, package=True),
            **tests,
            "README.md": "## before\n\n    pytest tests/test_before.py\n\n## after\n\n    pytest tests/test_after.py\n",
            "instances/instance.json": json.dumps(
                {
                    "FAIL_TO_PASS": ["tests/test_after.py::test_work_leaves_the_main_thread", "test_doubles_in_order"],
                    "PASS_TO_PASS": [],
                }
            ),
        },
    )
    return root


def keyword_task(root: Path) -> Path:
    """One test file with a class per implementation, chosen with `-k` in docker-compose commands."""
    body = "".join(
        f"\n\nclass Test{role.capitalize()}:\n    counter = {role}_counter\n\n"
        f"    def test_doubles_in_order(self):\n        assert self.counter.run_all([1, 2]) == [2, 4]\n\n"
        f"    def test_uses_a_pool(self):\n        assert hasattr(self.counter, 'ThreadPoolExecutor')\n"
        for role in ("before", "after")
    )
    write_files(
        root,
        {
            **implementations(root, package=True),
            "tests/test_counter.py": "from repository_before import counter as before_counter\n"
            "from repository_after import counter as after_counter\n" + body,
            "docker-compose.yml": "services:\n  before:\n    build: .\n    command: pytest tests -k before\n"
            "  after:\n    build: .\n    command: pytest tests -k after\n",
        },
    )
    return root


def package_task(root: Path) -> Path:
    """Tests import `repository_after.counter` from the task root; instances as paths relative to tests/."""
    write_files(
        root,
        {
            **implementations(root, package=True),
            "tests/test_counter.py": TESTS.replace("import counter", "from repository_after import counter"),
            "instances/instance.json": json.dumps(
                [
                    {
                        "FAIL_TO_PASS": ["test_counter.py::test_work_leaves_the_main_thread"],
                        "PASS_TO_PASS": ["test_counter.py::test_doubles_in_order"],
                    }
                ]
            ),
        },
    )
    return root


def manifest_task(root: Path) -> Path:
    """A task declared by a manifest whose before is already concurrent: rejected."""
    return make_task(root, before=CONCURRENT, f2p="import counter\n\n\n" + F2P_BODY)


def install_fails(root: Path) -> Path:
    """A requirements.txt naming a local path that does not exist: fails at once and offline."""
    pythonpath_task(root)
    write_files(root, {"requirements.txt": "./vendor/does-not-exist\n"})
    return root


def needs_redis(root: Path) -> Path:
    """A compose file with a Redis service, tests that read REDIS_HOST."""
    write_files(
        root,
        {
            **implementations(root),
            "tests/test_counter.py": TESTS + "\n\ndef test_reaches_the_service():\n    import os\n\n"
            "    assert os.environ['REDIS_HOST'] == '127.0.0.1' and os.environ['REDIS_PORT'] == '6399'\n",
            "docker-compose.yml": "services:\n  redis:\n    image: redis:7-alpine\n"
            "  tests:\n    build: .\n    depends_on:\n      - redis\n    environment:\n"
            "      - REDIS_HOST=redis\n      - REDIS_PORT=6379\n",
            "README.md": "PYTHONPATH=repository_after pytest tests\n",
        },
    )
    return root


BUILDERS = {
    "pythonpath_task": pythonpath_task,
    "env_task": env_task,
    "option_task": option_task,
    "selection_task": selection_task,
    "keyword_task": keyword_task,
    "package_task": package_task,
    "manifest_task": manifest_task,
    "install_fails": install_fails,
    "needs_redis": needs_redis,
}


def make_dataset(root: Path, names: list[str] | None = None) -> Path:
    """The fixture dataset (or some of its tasks) under `root`, one folder per task."""
    for name in names or list(BUILDERS):
        BUILDERS[name](root / name)
    return root
