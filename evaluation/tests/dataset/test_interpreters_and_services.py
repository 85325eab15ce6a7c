"""The Python a task asks for, the task's own pytest, and services started for a grade."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest

from concgrade.dataset.environments import InstallError, check_supported_pytest
from concgrade.dataset.interpreters import candidate_paths, choose_interpreter, requested_python
from concgrade.dataset.local_services import can_start, missing_program, started_services

HERE = ".".join(map(str, sys.version_info[:2]))


def task_with(tmp_path: Path, dockerfile: str) -> Path:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    return tmp_path


@pytest.mark.parametrize(
    "dockerfile, expected",
    [
        ("FROM python:3.12-slim\n", "3.12"),
        ("FROM --platform=linux/amd64 docker.io/library/python:3.9 AS build\nFROM scratch\n", "3.9"),
        ("  FROM python:3.13.0-bookworm\n", "3.13"),
        ("FROM ubuntu:22.04\nRUN apt-get install python3\n", None),
        ("FROM node:20 AS ui\nFROM python:3.10-alpine\n", "3.10"),
    ],
)
def test_the_python_a_dockerfile_builds_on(tmp_path, dockerfile, expected):
    found = requested_python(task_with(tmp_path, dockerfile))
    assert (found[0] if found else None) == expected


def test_pyenv_and_uv_pythons_are_found_newest_patch_first(tmp_path):
    for folder in ("pyenv/versions/3.12.1", "pyenv/versions/3.12.10", "uv/cpython-3.12.4-linux-x86_64-gnu"):
        binary = tmp_path / folder / "bin" / "python3.12"
        binary.parent.mkdir(parents=True)
        binary.write_text("#!/bin/sh\n")
        binary.chmod(0o755)
    environ = {
        "HOME": str(tmp_path),
        "PYENV_ROOT": str(tmp_path / "pyenv"),
        "UV_PYTHON_INSTALL_DIR": str(tmp_path / "uv"),
        "PATH": "",
    }
    found = [str(Path(p).relative_to(tmp_path)) for p in candidate_paths("3.12", environ)]
    assert found == [
        "pyenv/versions/3.12.10/bin/python3.12",
        "pyenv/versions/3.12.1/bin/python3.12",
        "uv/cpython-3.12.4-linux-x86_64-gnu/bin/python3.12",
    ]


def test_an_interpreter_that_only_pretends_is_not_taken_and_the_harness_python_is_used_with_a_note(tmp_path):
    fake = tmp_path / "home" / ".pyenv" / "versions" / "3.99.0" / "bin" / "python3.99"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\nexit 1\n")  # a pyenv shim for a version that is not installed
    fake.chmod(0o755)
    (tmp_path / "task").mkdir()
    task = task_with(tmp_path / "task", "FROM python:3.99-slim\n")
    chosen = choose_interpreter(task, {"HOME": str(tmp_path / "home"), "PATH": ""})
    assert chosen.executable == sys.executable and chosen.requested == "3.99"
    assert chosen.note == f"the task asks for Python 3.99, which this machine does not have: graded on {HERE}"


def test_a_python_older_than_the_in_process_code_supports_is_said_so(tmp_path):
    chosen = choose_interpreter(task_with(tmp_path, "FROM python:3.7\n"), {"HOME": str(tmp_path), "PATH": ""})
    assert chosen.executable == sys.executable and "needs 3.9 or newer" in (chosen.note or "")


def test_the_machines_own_pythons_are_used_when_the_dockerfile_names_one_it_has(tmp_path):
    other = next(
        (f"3.{minor}" for minor in range(9, 14) if f"3.{minor}" != HERE and candidate_paths(f"3.{minor}")), None
    )
    if other is None:
        pytest.skip("no second Python on this machine")
    chosen = choose_interpreter(task_with(tmp_path, f"FROM python:{other}-slim\n"))
    assert chosen.version.startswith(other + ".") and chosen.note is None and chosen.executable != sys.executable


@pytest.mark.parametrize("version", ["7.0.1", "7.4.3", "8.3.3", "9.0.3", "9.2.0"])
def test_the_pytest_versions_the_plugin_runs_on(version):
    check_supported_pytest(version)


@pytest.mark.parametrize("version", ["6.2.5", "10.0.0"])
def test_a_pytest_the_plugin_cannot_run_on_is_one_line(version):
    with pytest.raises(InstallError) as raised:
        check_supported_pytest(version)
    assert f"pytest {version}" in str(raised.value) and "7.0 to 9.x" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_service_whose_program_is_missing_names_the_package():
    assert missing_program("postgres") == "postgres is not installed (Debian: apt-get install postgresql)" or can_start(
        "postgres"
    )
    assert "cannot start mysql" in missing_program("mysql") and not can_start("mysql")


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_a_private_redis_answers_on_its_port_and_is_gone_afterwards():
    with started_services(["redis"]) as addresses:
        host, port = addresses["redis"].split(":")
        assert host == "127.0.0.1"
        with socket.create_connection((host, int(port)), timeout=5) as connection:
            connection.sendall(b"PING\r\n")
            assert connection.recv(16) == b"+PONG\r\n"
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=1).close()


def test_nothing_to_start_is_nothing():
    with started_services([]) as addresses:
        assert addresses == {}
