"""The red-team harness: grade a candidate folder against a copy of the reference task, and check what it left.

Each case runs the grader from a copy of the harness in tmp_path (so an attack that succeeds damages only the
copy), with a fake HOME, its own cache folder and a token in the environment and in every path it tries, then
asserts the promises every grade keeps: no process of the grade is still alive, nothing outside the run's
scratch copy changed (the task and candidate folders, the grader's HOME, the harness, its installed packages,
the canary paths an attack aimed at), and the verdict and failing checks the case expects.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leftovers import entries_with, processes_with

REPO = Path(__file__).resolve().parents[3]
REFERENCE_PARTS = ("repository_before", "repository_after", "tests", "trajectory", "README.md", "Dockerfile")
GRADE_TIMEOUT = float(os.environ.get("REDTEAM_GRADE_TIMEOUT", 300))  # seconds: a grade still running then has hung
TOKEN_PLACEHOLDER = "__TOKEN__"
# What an attacker may know without being told: where the user keeps the task, the candidate and the harness.
TASK_PLACEHOLDER, CANDIDATE_PLACEHOLDER, HARNESS_PLACEHOLDER = "__TASK__", "__CANDIDATE__", "__HARNESS__"
# Packages whose installed files a grade must leave byte-identical (with the harness copy itself).
WATCHED_PACKAGES = (
    "pytest",
    "_pytest",
    "pluggy",
    "pytest_timeout.py",
    "pytest_jsonreport",
    "concgrade-0.1.0.dist-info",
)

SEQUENTIAL = (REPO / "repository_before" / "notify_service.py").read_text(encoding="utf-8")
REFERENCE = (REPO / "repository_after" / "notify_service.py").read_text(encoding="utf-8")
# The sequential original with the constant the one constant-only F2P test asks for.
SEQUENTIAL_WITH_LIMIT = SEQUENTIAL + "\nMAX_WORKERS = 50\n"


@dataclass(frozen=True)
class Case:
    """One red-team candidate: its files, what the grade must say, and where its attack aimed."""

    name: str
    klass: int  # the class of attack (1-9), or 0 for a legitimate design that must be accepted
    files: dict[str, str | bytes]  # the candidate folder (in text, TOKEN_PLACEHOLDER is replaced by the case's token)
    verdict: str  # "accepted", "rejected" or "error"
    failing: tuple[str, ...] = ()  # check ids (or id prefixes ending in ".") that must not pass
    canaries: tuple[str, ...] = ()  # absolute paths the attack tries to create (with the token)
    args: tuple[str, ...] = ("--no-bench",)
    manifest_edits: tuple[tuple[str, str], ...] = ()  # (old, new) replacements in the task copy's manifest
    bulk: str | None = None  # also grade it with `predictions`: the status it must get there
    today: str = ""  # what the grade said before the defence (documentation of the red-team run)
    notes: str = ""
    # The user's folders outside /tmp (the run's /tmp is private): where an attack can see them, read-only.
    outside_tmp: bool = False

    @property
    def id(self) -> str:
        return f"c{self.klass}-{self.name}" if self.klass else f"legit-{self.name}"


@dataclass
class Graded:
    """What one graded case left: the grader's exit, results.json, and the bulk grade's row."""

    returncode: int
    stdout: str
    stderr: str
    results: dict[str, Any]
    bulk_row: dict[str, Any] | None = None
    seconds: float = 0.0
    left_behind: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return str(self.results.get("verdict"))

    def failing(self) -> dict[str, str]:
        return {c["id"]: c["message"] for c in self.results.get("checks", []) if c["status"] != "pass"}

    def check(self, check_id: str) -> dict[str, Any]:
        return next(c for c in self.results["checks"] if c["id"] == check_id)


def candidate(source: str, **more: str | bytes) -> dict[str, str | bytes]:
    """A candidate folder: notify_service.py (dedented) plus any other files (text dedented, bytes as they are)."""
    return {
        "notify_service.py": textwrap.dedent(source),
        **{k: v if isinstance(v, bytes) else textwrap.dedent(v) for k, v in more.items()},
    }


def copy_reference_task(target: Path, edits: tuple[tuple[str, str], ...] = ()) -> Path:
    for part in REFERENCE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)
    (target / "evaluation").mkdir()
    manifest = (REPO / "evaluation" / "concgrade.toml").read_text(encoding="utf-8")
    for old, new in edits:
        assert old in manifest, f"the reference manifest has no {old!r}"
        manifest = manifest.replace(old, new)
    (target / "evaluation" / "concgrade.toml").write_text(manifest, encoding="utf-8")
    return target


def copy_harness(target: Path) -> Path:
    """The harness as a user has it (evaluation/run.py beside the concgrade package), to grade with.

    REDTEAM_HARNESS names another checkout's evaluation/ folder (e.g. main's, to see what a case did before).
    """
    source = Path(os.environ.get("REDTEAM_HARNESS") or REPO / "evaluation")
    evaluation = target / "evaluation"
    shutil.copytree(source / "concgrade", evaluation / "concgrade", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(source / "run.py", evaluation / "run.py")
    return evaluation / "run.py"


def digest_tree(root: Path) -> dict[str, str]:
    """Every entry below root (files, links, FIFOs, folders) with its content hash or kind."""
    found: dict[str, str] = {}
    if not root.exists():
        return found
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[relative] = "link:" + os.readlink(path)
        elif path.is_file():
            found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            found[relative] = "dir"
        else:
            found[relative] = "special"
    return found


def installed_files() -> dict[str, str]:
    """The installed packages a grade relies on, and site-packages' .pth files (other entries change as other
    sessions of this machine install packages)."""
    found: dict[str, str] = {}
    for folder in {Path(p) for p in site.getsitepackages()}:
        if not folder.is_dir():
            continue
        for name in WATCHED_PACKAGES:
            path = folder / name
            if path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir():
                found.update({f"{path}/{k}": v for k, v in digest_tree(path).items() if "__pycache__" not in k})
    for entry in folder_pth_files():
        found[str(entry)] = hashlib.sha256(entry.read_bytes()).hexdigest()
    return found


def folder_pth_files() -> list[Path]:
    return [path for folder in site.getsitepackages() for path in Path(folder).glob("*.pth")]


class Grader:
    """Grades one case in tmp_path and records what would be left behind; `cleanup()` removes it."""

    def __init__(self, tmp_path: Path, case: Case) -> None:
        self.tmp = tmp_path
        self.case = case
        self.token = "rt" + secrets.token_hex(6)
        self.user = Path(tempfile.mkdtemp(prefix="rt-user-", dir="/var/tmp")) if case.outside_tmp else tmp_path
        self.task = copy_reference_task(self.user / "task", case.manifest_edits)
        self.harness_run = copy_harness(tmp_path / "harness")
        self.harness_package = self.harness_run.parent / "concgrade"
        self.home = tmp_path / "home"
        (self.home / ".config").mkdir(parents=True)
        (self.home / ".profile").write_text("# the grader's own home\n", encoding="utf-8")
        self.candidate = self.user / "candidate"
        for relative, text in case.files.items():
            path = self.candidate / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(self.tokened(text), encoding="utf-8")
        self.canaries = [Path(self.tokened(path)) for path in case.canaries]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CONCGRADE_", "PYTEST_"))},
            "HOME": str(self.home),
            "CONCGRADE_CACHE_DIR": str(tmp_path / "cache"),
            "PYTHONDONTWRITEBYTECODE": "1",
            "REDTEAM_TOKEN": self.token,  # every process of the grade inherits it, unless it clears its environment
        }

    def tokened(self, text: str) -> str:
        text = text.replace(TASK_PLACEHOLDER, str(self.task)).replace(HARNESS_PLACEHOLDER, str(self.harness_package))
        text = text.replace(CANDIDATE_PLACEHOLDER, str(self.candidate))
        return text.replace(TOKEN_PLACEHOLDER, self.token)

    def snapshot(self) -> dict[str, dict[str, str]]:
        return {
            "task": digest_tree(self.task),
            "candidate": digest_tree(self.candidate),
            "home": digest_tree(self.home),
            "harness": digest_tree(self.harness_run.parent),
            "installed": installed_files(),
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(self.harness_run), *args],
            capture_output=True,
            text=True,
            timeout=GRADE_TIMEOUT,
            env=self.env,
            cwd=self.tmp,
        )

    def grade(self) -> Graded:
        before = self.snapshot()
        out = self.tmp / "out"
        started = time.monotonic()
        args = ["--task", str(self.task), "--candidate", str(self.candidate), "--output", str(out), "--jobs", "2"]
        done = self.run(*args, *self.case.args)
        seconds = time.monotonic() - started
        results = json.loads((out / "results.json").read_text()) if (out / "results.json").is_file() else {}
        graded = Graded(done.returncode, done.stdout, done.stderr, results, seconds=seconds)
        graded.left_behind = self.left_behind(before)
        if self.case.bulk is not None:
            graded.bulk_row = self.grade_in_bulk()
            graded.left_behind += self.left_behind(before)
        return graded

    def grade_in_bulk(self) -> dict[str, Any]:
        """The same candidate through `concgrade predictions`, against a dataset holding the task."""
        dataset = self.tmp / "dataset"
        dataset.mkdir(exist_ok=True)
        link = dataset / "reference"
        if not link.exists():
            shutil.copytree(self.task, link)
        predictions = self.tmp / "predictions.jsonl"
        line = {"task": "reference", "candidate": str(self.candidate), "id": self.case.name}
        predictions.write_text(json.dumps(line) + "\n", encoding="utf-8")
        out = self.tmp / "bulk"
        self.run("predictions", str(predictions), "--dataset", str(dataset), "--output", str(out), *self.case.args)
        document = json.loads((out / "predictions.json").read_text())
        return document["predictions"]["rows"][0]

    def left_behind(self, before: dict[str, dict[str, str]]) -> list[str]:
        """Everything the grade left that it must not have: processes, changed folders, canaries."""
        problems = []
        deadline = time.monotonic() + 2.0
        living = processes_with(self.token)
        while living and time.monotonic() < deadline:  # a process being killed right now gets a moment
            time.sleep(0.1)
            living = processes_with(self.token)
        problems += [f"process {pid} outlived the grade: {command}" for pid, command in living]
        after = self.snapshot()
        for name, digest in before.items():
            changed = sorted(set(digest.items()) ^ set(after[name].items()))
            if changed:
                problems.append(f"{name} changed: {[k for k, _ in changed][:6]}")
        problems += [f"canary written: {path}" for path in self.canaries if path.exists() or path.is_symlink()]
        problems += [f"left in a shared temporary folder: {path}" for path in entries_with(self.token)]
        return problems

    def cleanup(self) -> None:
        """Undo whatever a successful attack left on the machine (processes, canaries, .pth files)."""
        for pid, _ in processes_with(self.token):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for path in [*self.canaries, *map(Path, entries_with(self.token))]:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    path.unlink()
                except OSError:
                    pass
        for pth in folder_pth_files():
            if self.token in pth.name:
                pth.unlink()
        if self.user != self.tmp:
            shutil.rmtree(self.user, ignore_errors=True)
