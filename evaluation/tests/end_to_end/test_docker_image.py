"""The reference task's image grades itself: its file tree built from the Dockerfile (no engine here) runs the
commands the task's seed README documents, with the compose service's working folder and environment.

    docker compose run --rm -e PYTHONPATH=/app/repository_before app pytest -q    P2P passes, F2P fails
    docker compose run --rm -e PYTHONPATH=/app/repository_after app pytest -q     everything passes
    docker compose run --rm app python evaluation/evaluation.py                    grade + evaluation/results.json
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import REPO
from dockerimage import build_image, compose_service

P2P = 17  # tests of tests/test_behavior_basics.py (parametrized ones counted per case)
F2P = 9  # tests of tests/test_concurrency_constraints.py


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return build_image(REPO, tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="module")
def service():
    return compose_service(REPO, "app")


def compose_run(image, service, command=None, env=None):
    """`docker compose run --rm [-e K=V] app [COMMAND]`: the service's command unless one is given."""
    return image.run(
        command or service["command"] or image.cmd,
        env={**service["environment"], **(env or {})},
        workdir=service["working_dir"] or image.workdir,
    )


def counts(output: str) -> dict[str, int]:
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|error|errors)", output.splitlines()[-1])}


def test_the_image_holds_what_a_grade_checks(image):
    app = image.path("/app")
    for part in (
        "README.md",
        "Dockerfile",
        "evaluation/concgrade.toml",
        "evaluation/run.py",
        "evaluation/evaluation.py",
    ):
        assert (app / part).is_file(), part
    assert not (app / "reports").exists() and not list(app.rglob("__pycache__"))  # .dockerignore held
    assert not (app / "evaluation" / "concgrade").exists()  # the harness is installed, not in the task


def test_pytest_on_before_passes_p2p_and_fails_f2p(image, service):
    result = compose_run(image, service, ["pytest", "-q"], env={"PYTHONPATH": "/app/repository_before"})
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert counts(result.stdout) == {"failed": F2P, "passed": P2P}
    assert "test_concurrency_constraints.py" in result.stdout and "error" not in result.stdout.splitlines()[-1]


def test_pytest_on_after_passes_everything_and_is_the_default(image, service):
    result = compose_run(image, service, ["pytest", "-q"], env={"PYTHONPATH": "/app/repository_after"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert counts(result.stdout) == {"passed": P2P + F2P}
    default = compose_run(image, service)  # `docker compose run --rm app`: the service's own command
    assert service["command"] == ["pytest", "-q"] or image.cmd == ["pytest", "-q"]
    assert default.returncode == 0 and counts(default.stdout) == {"passed": P2P + F2P}


def test_evaluation_py_grades_the_task_inside_the_image(image, service):
    result = compose_run(image, service, ["python", "evaluation/evaluation.py"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "verdict: accepted" in result.stdout
    app = image.path("/app")
    summary = json.loads((app / "evaluation" / "results.json").read_text(encoding="utf-8"))
    assert summary["success"] is True and summary["verdict"] == "accepted"
    assert summary["implementations"]["after"]["tests"]["passed"] == P2P + F2P
    assert summary["implementations"]["before"]["structure"]["lines"] > 0  # line counts and structure
    assert summary["implementations"]["after"]["constructs"]
    full = json.loads((app / "reports" / "results.json").read_text(encoding="utf-8"))
    assert full["verdict"] == "accepted"
    assert not [f for f in full["lint"] if f["severity"] == "error"]  # no CL001: README and Dockerfile are there
    grade = compose_run(image, service, ["python", "evaluation/run.py", "--quiet"])
    assert grade.returncode == 0 and grade.stdout.strip() == "accepted", grade.stderr[-2000:]
