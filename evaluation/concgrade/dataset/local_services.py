"""`--services auto`: a private instance of a service a task needs, where its server program is installed here.

A task whose compose file runs Redis or PostgreSQL beside its tests is otherwise skipped. With `--services
auto` each such grade starts its own server on a free loopback port in a folder of its own (nothing persisted,
nothing shared with another grade), waits until it answers, hands its address to the task's variables
(task/services.py writes them as the compose file names them), and stops it afterwards, whatever the grade did.
Where the program is not installed, the task stays skipped, and the reason says which program is missing.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from concgrade.errors import ConcgradeError

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


class ServiceError(ConcgradeError):
    """A service could not be started for a grade."""

    slug = "service"


@dataclass(frozen=True)
class Server:
    """How to run one kind of service here: the program it needs and how to start it in a folder on a port."""

    name: str
    program: str  # what must be installed (the message names it)
    package: str  # the Debian package that brings it

    def executable(self) -> str | None:
        if self.name == "postgres":
            return _postgres_binary("postgres")
        return shutil.which(self.program)


SERVERS = {
    "redis": Server("redis", "redis-server", "redis-server"),
    "postgres": Server("postgres", "postgres", "postgresql"),
}


def _postgres_binary(name: str) -> str | None:
    """Debian puts PostgreSQL's programs under /usr/lib/postgresql/VERSION/bin, not on PATH."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def can_start(name: str) -> bool:
    server = SERVERS.get(name)
    return server is not None and server.executable() is not None


def missing_program(name: str) -> str:
    """One line on why a service cannot be started here."""
    server = SERVERS.get(name)
    if server is None:
        return f"concgrade cannot start {name} itself"
    return f"{server.program} is not installed (Debian: apt-get install {server.package})"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def started_services(names: list[str]) -> Iterator[dict[str, str]]:
    """Start a private instance of each service; yields name -> "127.0.0.1:PORT"; stops them all afterwards."""
    with ExitStack() as stack:
        addresses = {name: stack.enter_context(_started(name)) for name in names}
        yield addresses


@contextmanager
def _started(name: str) -> Iterator[str]:
    if not can_start(name):
        raise ServiceError(f"cannot start {name}: {missing_program(name)}")
    folder = Path(tempfile.mkdtemp(prefix=f"concgrade-{name}-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        port = free_port()
        process = _start_redis(folder, port) if name == "redis" else _start_postgres(folder, port)
        _wait_until_listening(process, port, name, folder)
        yield f"127.0.0.1:{port}"
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def _start_redis(folder: Path, port: int) -> subprocess.Popen[bytes]:
    executable = SERVERS["redis"].executable() or "redis-server"
    command = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    command += ["--dir", str(folder), "--daemonize", "no", "--protected-mode", "yes"]
    with open(folder / "server.log", "wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)


def _start_postgres(folder: Path, port: int) -> subprocess.Popen[bytes]:
    """initdb and postgres refuse to run as root: as root, they run as the `postgres` user the package creates."""
    initdb, postgres = _postgres_binary("initdb"), _postgres_binary("postgres")
    if not initdb or not postgres:
        raise ServiceError(f"cannot start postgres: {missing_program('postgres')}")
    data = folder / "data"
    prefix: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("runuser"):
            raise ServiceError("cannot start postgres as root without runuser")
        shutil.chown(folder, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    with open(folder / "server.log", "wb") as log:
        init = subprocess.run(
            [*prefix, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            timeout=START_TIMEOUT * 3,
        )
        if init.returncode != 0:
            raise ServiceError(f"initdb failed (exit {init.returncode})")
        command = [*prefix, postgres, "-D", str(data), "-p", str(port), "-h", "127.0.0.1", "-k", str(folder)]
        return subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)


def _wait_until_listening(process: subprocess.Popen[bytes], port: int, name: str, folder: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (folder / "server.log").read_bytes()[-300:].decode("utf-8", "replace").strip()
            raise ServiceError(f"{name} exited at start (status {process.returncode}): {tail.splitlines()[-1:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServiceError(f"{name} did not listen on 127.0.0.1:{port} within {START_TIMEOUT:g} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's whole session, then SIGKILL if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            continue
