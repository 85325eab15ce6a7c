"""One task's grade as a unit of work for an executor: what to grade in, what comes back out.

The same function (`run_job`) grades a task in a local worker process or on a Dask worker: it loads
the task, builds its environment, runs the usual isolated grade with one pytest process at a time,
and returns the outcome with the rendered report files, so nothing depends on a shared filesystem.
For a remote worker the task (and candidate) folders travel beside the job as content-addressed archives
(archives.py), unpacked on the worker into a folder of its own.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from concgrade.bench.measure import requested_by
from concgrade.dataset.archives import Archive, unpack
from concgrade.dataset.cache import default_cache_dir
from concgrade.dataset.environments import InstallError, installed
from concgrade.dataset.local_services import started_services
from concgrade.errors import ConcgradeError
from concgrade.files import harness_version, walk_files
from concgrade.grade.checks import ACCEPTED, ERROR, EXIT_CODES, REJECTED
from concgrade.pipeline import BenchMode, GradeOptions, grade, load_graded_task
from concgrade.report.writers import render_reports
from concgrade.static.pysource import ParsedSource
from concgrade.static.testscan import timing_assertions
from concgrade.task.load import load_task
from concgrade.task.model import F2P, P2P
from concgrade.task.services import ServiceNeed, service_environment

SKIPPED = "skipped"
# Worst first: the dataset's exit status is that of its worst task (a skipped task changes nothing).
SEVERITY = {ERROR: 3, REJECTED: 2, ACCEPTED: 1, SKIPPED: 0}


@dataclass(frozen=True)
class JobOptions:
    """How a dataset grades each of its tasks: the one grade's options, and whether to build its environment."""

    grade: GradeOptions = field(default_factory=lambda: GradeOptions(jobs=1))
    install: bool = False  # run each task in a virtualenv of its own requirements

    def to_dict(self) -> dict[str, Any]:
        """The options as the dataset's results.json lists them."""
        grade = self.grade
        return {
            "test_timeout": grade.limits.test_timeout,
            "run_timeout": grade.limits.run_timeout,
            "install": self.install,
            "bench": grade.bench,
            "bench_cache": grade.bench_cache,
            "repeat": grade.repeat,
            "stress": grade.stress,
        }

    def key(self) -> dict[str, Any]:
        """The options in the grade cache's key (reusing benchmark timings or not gives the same grade)."""
        return {**self.grade.key(), "install": self.install}


@dataclass
class TaskJob:
    label: str  # the task's path below the dataset root; also where its reports go
    root: str
    options: JobOptions
    candidate: str | None = None
    environment: dict[str, str] = field(default_factory=dict)  # variables for the runs (provided services)
    started_services: list[ServiceNeed] = field(default_factory=list)  # `--services auto`: started for this grade


@dataclass
class TaskOutcome:
    """What the dataset's aggregate says about one task (or one candidate of a task)."""

    label: str
    verdict: str
    failing_checks: list[dict[str, Any]] = field(default_factory=list)
    duration_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    task: dict[str, Any] = field(default_factory=dict)  # name, toggle, toggle_source, suites_source
    instances: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    services: list[dict[str, Any]] = field(default_factory=list)
    resolution: dict[str, Any] | None = None  # for a candidate: resolved, partial or unresolved
    error: str | None = None
    harness: str = ""
    cached: bool = False
    files: dict[str, bytes] = field(default_factory=dict)  # rendered reports, by file name

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.verdict, 0)

    def to_dict(self) -> dict[str, Any]:
        """The outcome without its report files (they are written beside it)."""
        data = asdict(self)
        data.pop("files")
        data["exit_code"] = self.exit_code
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], files: dict[str, bytes]) -> TaskOutcome:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data and name != "files"}
        return cls(**known, files=files)


def run_job(job: TaskJob, task: Archive | None = None, candidate: Archive | None = None) -> TaskOutcome:
    """Grade one task; never raises for a bad task. With archives (a worker that cannot see the client's
    folders), `job.root` and `job.candidate` only name them: the grade runs on the unpacked copies."""
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="concgrade-job-")) if task is not None else None
    try:
        root = unpack(task, scratch / "task") if scratch and task is not None else Path(job.root)
        candidate_folder = Path(job.candidate) if job.candidate else None
        if scratch and candidate is not None:
            candidate_folder = unpack(candidate, scratch / "candidate")
        outcome = grade_folder(job, root, candidate_folder)
        if scratch:
            outcome.task["root"] = job.root
    except ConcgradeError as exc:
        outcome = TaskOutcome(job.label, ERROR, error=str(exc))
    except Exception as exc:  # a bug of concgrade must not take the other tasks down
        outcome = TaskOutcome(job.label, ERROR, error=f"internal error: {type(exc).__name__}: {exc}")
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    outcome.harness = harness_version()
    outcome.duration_seconds = round(time.monotonic() - started, 3)
    return outcome


def grade_folder(job: TaskJob, root: Path, candidate: Path | None) -> TaskOutcome:
    task = load_graded_task(root, job.options.grade, candidate)
    environment = None
    if job.options.install:
        try:
            task, prepared = installed(task, default_cache_dir())
        except InstallError as exc:
            return TaskOutcome(job.label, ERROR, task=task_summary(task), error=f"dependency install: {exc}")
        environment = prepared.to_dict()
    if job.environment:
        task = task.with_environment(task.interpreter, job.environment)
    names = [need.name for need in job.started_services]
    with started_services(names) as addresses:  # private instances, stopped whatever the grade does
        if addresses:
            task = task.with_environment(task.interpreter, service_environment(job.started_services, addresses))
        # One pytest process at a time inside a dataset grade: the executor's workers are the parallelism.
        results = grade(task, dataclasses.replace(job.options.grade, jobs=1))
    services = [{"name": name, "started": address, "mode": "auto"} for name, address in addresses.items()]
    return TaskOutcome(
        label=job.label,
        verdict=results.verdict,
        failing_checks=[
            {"id": c["id"], "status": c["status"], "message": c["message"]}
            for c in results.checks
            if c["status"] != "pass"
        ],
        timings=dict(results.timings),
        task={**task_summary(task), "suites_source": results.task.get("suites_source")},
        instances=results.instances,
        environment=environment,
        services=services,
        resolution=candidate_resolution(results.to_dict()) if candidate is not None else None,
        files=render_reports(results),
    )


def asserts_on_time(root: Path) -> bool:
    """Whether some test of the task asserts on a clock reading (graded alone, like a benchmark: a grade beside it
    would bend its timings)."""
    for path in walk_files(root / "tests", ".py"):
        try:
            parsed = ParsedSource.parse(path.name, path.read_bytes().decode("utf-8", "replace"))
        except (SyntaxError, ValueError, RecursionError, OSError):
            continue
        if next(timing_assertions(parsed), None) is not None:
            return True
    return False


def wants_bench(root: Path, mode: BenchMode) -> bool:
    """Whether grading the task runs its benchmark phase (which needs the machine to itself)."""
    try:
        return requested_by(mode, load_task(root).workloads) is not None
    except ConcgradeError:
        return False  # the grade itself reports what is wrong with the task


def task_summary(task: Any) -> dict[str, Any]:
    return {
        "name": task.name,
        "root": str(task.root),
        "toggle": asdict(task.toggle),
        "toggle_source": task.toggle_source,
        "suites_source": task.source,
    }


# A candidate's own expectations: the suites on it. Any other failing check of it is a disqualification.
CANDIDATE_SUITE_CHECKS = ("p2p.passes_on_candidate", "f2p.passes_on_candidate")


def candidate_resolution(results: dict[str, Any]) -> dict[str, Any]:
    """The bulk status of a candidate, SWE-bench's words for the single grade's own decision (docs/dataset.md).

    resolved:   the grade accepted it (every check passed).
    partial:    rejected only because some FAIL_TO_PASS tests fail, every PASS_TO_PASS test passes, and among
                the FAIL_TO_PASS tests it passes one shows the concurrency the task is about (a probe saw at
                least two calls at once); a task whose F2P tests carry no probe counts any passing F2P test.
    unresolved: rejected for anything else about the candidate: its tests, or a check of how it ran
                (tampering, the sandbox, limits, processes left, channels that disagree, test-aware code, ...).
    error:      the grade could not decide (an error), or the task itself does not grade (its before or after
                fail their own expectations): the prediction cannot be judged on it.
    """
    impl = results.get("implementations", {}).get("candidate")
    checks = results.get("checks", [])
    failing = [check for check in checks if check["status"] != "pass"]
    counts = suite_counts(results, impl)
    summary = {"fail_to_pass": "{}/{}".format(*counts[F2P]), "pass_to_pass": "{}/{}".format(*counts[P2P])}
    if impl is None:
        return {"status": "error", "reason": results.get("error") or "the candidate did not run", **summary}
    if results.get("verdict") == ERROR:
        first = next((c for c in failing if c["status"] == "error"), None)
        return {"status": "error", "reason": first["message"] if first else results.get("error") or "error", **summary}
    if results.get("verdict") == ACCEPTED:
        return {"status": "resolved", "reason": "the grade accepted it: every check passed", **summary}
    about_candidate = [c for c in failing if is_about_candidate(c)]
    if not about_candidate:
        return {"status": "error", "reason": f"the task does not grade candidates: {failing[0]['message']}", **summary}
    disqualifying = [c for c in about_candidate if c["id"] not in CANDIDATE_SUITE_CHECKS]
    if disqualifying:
        return {"status": "unresolved", "reason": disqualifying[0]["message"], **summary}
    (f2p_ok, f2p_total), (p2p_ok, p2p_total) = counts[F2P], counts[P2P]
    if p2p_ok == p2p_total and f2p_ok > 0 and shows_the_behaviour(results, impl):
        return {"status": "partial", "reason": f"{f2p_ok} of {f2p_total} FAIL_TO_PASS tests pass", **summary}
    reason = f"FAIL_TO_PASS {f2p_ok}/{f2p_total}, PASS_TO_PASS {p2p_ok}/{p2p_total}"
    if p2p_ok == p2p_total and f2p_ok > 0:
        reason += ": none of the FAIL_TO_PASS tests it passes shows concurrent calls"
    return {"status": "unresolved", "reason": reason, **summary}


def suite_counts(results: dict[str, Any], impl: dict[str, Any] | None) -> dict[str, tuple[int, int]]:
    passed = {test["nodeid"]: test["passed"] for test in (impl or {}).get("tests", [])}
    counts = {}
    for suite in (F2P, P2P):
        ids = results.get("suites", {}).get(suite, [])
        counts[suite] = (sum(bool(passed.get(n)) for n in ids), len(ids))
    return counts


def is_about_candidate(check: dict[str, Any]) -> bool:
    """A check of the candidate itself (its own checks, or a problem of the grade that names its run)."""
    if check.get("implementation") == "candidate" or check["id"].endswith(".candidate"):
        return True
    if check["id"].startswith("candidate."):
        return True
    return check["id"] in ("runs.consistent", "suites.ran") and "candidate" in check.get("message", "")


def shows_the_behaviour(results: dict[str, Any], impl: dict[str, Any]) -> bool:
    """Whether a FAIL_TO_PASS test the candidate passes saw two calls at once (or the task's F2P tests probe nothing)."""
    f2p = set(results.get("suites", {}).get(F2P, []))
    tests = [test for test in impl.get("tests", []) if test["nodeid"] in f2p]
    probed = [test for test in tests if test.get("probes")]
    if not probed:
        return True  # nothing in the task says what concurrency looks like: SWE-bench's rule
    return any(
        test["passed"] and any(int(figures.get("max_active") or 0) >= 2 for figures in test["probes"])
        for test in probed
    )
