"""History checks: how often a racy refactor is caught, that a locked one never is, and what the checker costs.

    python benchmarks/history_detection.py                    # 20 seeds per shape, variant and mode; then timings
    python benchmarks/history_detection.py --seeds 5 --modes stress
    python benchmarks/history_detection.py --timings-only
    python benchmarks/history_detection.py --pipeline-only --seeds 10   # whole grades only

Each shape (evaluation/tests/history_shapes.py: a hit counter, a token bucket that refills racily, a
cache whose get-or-compute can compute twice, an id generator that can repeat ids) has a sequential
reference, a racy refactor (the reference run from threads) and a locked one. Each trial is what a
grade runs: the driver in a fresh process with the refactor on PYTHONPATH, the model served by a
second fresh process with the reference on PYTHONPATH, and the checker in this one. Modes:

  plain          no stress
  stress-locks   stress mode alone (switch interval 1 µs, seeded yields at locks and sleeps)
  stress         stress mode and seeded yields at call boundaries of the code under test (the default)

Then the same through the real pipeline: per shape, variant and seed, a whole grade (`concgrade.pipeline.grade`)
of a fixture task whose after is the variant (pytest runs, then the histories phase: the sandboxed driver, the
boot-started model, the check), with one recorded run per grade; and the example notification_simulator with
its store's lock taken out (its suites catch that too, since they hold a read-modify-write open; the
history is timed here as the check a grade runs on it).

Goals: with stress, each racy refactor caught in at least 19 of 20 seeds, each locked one in none.
Then the checker's time on histories of 1,000 and 10,000 operations (locked token bucket, 4 threads,
one partition): through the served model (as a grade runs it), with the reference in this process
(pickled states, and replayed ones at 1,000), and with a pure-Python model (the search alone).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "evaluation"), str(REPO / "evaluation" / "tests")]

from history_shapes import MODULE, SHAPES, Shape, make_history_task, manifest_entry, write_shape, write_spec  # noqa: E402

from concgrade.grade.linearizability import (  # noqa: E402
    LINEARIZABLE,
    UNDECIDED,
    VIOLATION,
    Model,
    Verdict,
    check,
    check_declared,
    history_from_json,
    returns,
)
from concgrade.inside.history_replay import REPLAY, replay_model  # noqa: E402
from concgrade.pipeline import GradeOptions, grade, load_graded_task  # noqa: E402
from concgrade.run.history_model import RemoteModel  # noqa: E402
from concgrade.task.histories import HistorySpec, parse_histories  # noqa: E402

MODES = {"plain": {"stress": False}, "stress-locks": {"call_yields": False}, "stress": {}}


def environment(folder: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join([str(folder), str(REPO / "evaluation")]), "PATH": os.defpath}


def declare(shape: Shape, **extra: Any) -> HistorySpec:
    return parse_histories({"histories": [manifest_entry(shape, **extra)]}, Path("benchmark.toml"))[0]


def record(declared: HistorySpec, seed: int, implementation: Path, scratch: Path, **overrides: Any) -> dict[str, Any]:
    """One recorded history: the driver in a fresh process."""
    spec = write_spec(scratch / "child.json", {**declared.child_spec(seed, scratch), **overrides})
    out = scratch / "history.json"
    command = [sys.executable, "-m", "concgrade.inside.history_driver", str(spec), str(out)]
    subprocess.run(command, env=environment(implementation), check=True, timeout=300, capture_output=True)
    recorded: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    if not recorded.get("ok"):
        raise SystemExit(f"the driver failed: {recorded.get('error')}")
    return recorded


def judge(declared: HistorySpec, recorded: dict[str, Any], reference: Path, scratch: Path) -> Verdict:
    """The recorded history against the reference, served by a fresh process."""
    spec = write_spec(scratch / "model.json", declared.child_spec(int(recorded["seed"]), scratch))
    with RemoteModel(spec, scratch, environment(reference)) as model:
        return check_declared(history_from_json(recorded), declared, model)


def detection(seeds: int, modes: list[str], shapes: list[str], root: Path) -> None:
    print(f"{seeds} seeds per shape, variant and mode (4 threads x 50 calls each)", flush=True)
    print(f"{'shape':<14} {'mode':<13} {'racy caught':>12} {'locked flagged':>15} {'undecided':>10} {'s/trial':>8}")
    for name in shapes:
        shape = SHAPES[name]
        folders = {
            variant: write_shape(root / name / variant, shape, variant) for variant in ("before", "racy", "locked")
        }
        declared = declare(shape)
        for mode in modes:
            statuses: dict[str, list[str]] = {"racy": [], "locked": []}
            seconds = []
            for seed in range(seeds):
                for variant in ("racy", "locked"):
                    started = time.monotonic()
                    recorded = record(declared, seed, folders[variant], root / name, **MODES[mode])
                    verdict = judge(declared, recorded, folders["before"], root / name)
                    seconds.append(time.monotonic() - started)
                    statuses[variant].append(verdict.status)
                    if verdict.status == VIOLATION and variant == "locked":
                        print(f"  locked flagged, seed {seed}: {verdict.message()}")
            caught = statuses["racy"].count(VIOLATION)
            flagged = statuses["locked"].count(VIOLATION)
            undecided = sum(statuses[v].count(UNDECIDED) for v in statuses)
            print(
                f"{name:<14} {mode:<13} {f'{caught}/{seeds}':>12} {f'{flagged}/{seeds}':>15} {undecided:>10} "
                f"{statistics.median(seconds):>8.2f}",
                flush=True,
            )


def graded_status(task: Path, seed: int, check_id: str, candidate: Path | None = None) -> tuple[str, float]:
    """One whole grade with `seed`: the status of `check_id` and the grade's seconds."""
    options = GradeOptions(jobs=2, seed=seed)
    started = time.monotonic()
    results = grade(load_graded_task(task, options, candidate), options)
    status = next(check["status"] for check in results.checks if check["id"] == check_id)
    return status, time.monotonic() - started


def pipeline_detection(seeds: int, shapes: list[str], root: Path) -> None:
    print(f"\nthrough the pipeline: one grade per seed (runs = 1), {seeds} seeds per shape and variant", flush=True)
    print(f"{'shape':<24} {'racy rejected':>14} {'locked flagged':>15} {'errors':>7} {'s/grade':>8}")
    for name in shapes:
        tasks = {
            variant: make_history_task(root / f"pipeline-{name}-{variant}", SHAPES[name], variant)
            for variant in ("racy", "locked")
        }
        statuses: dict[str, list[str]] = {"racy": [], "locked": []}
        seconds = []
        for seed in range(seeds):
            for variant, task in tasks.items():
                status, elapsed = graded_status(task, seed, f"history.linearizable.{name}.after")
                statuses[variant].append(status)
                seconds.append(elapsed)
        errors = sum(statuses[v].count("error") for v in statuses)
        rejected = f"{statuses['racy'].count('fail')}/{seeds}"
        flagged = f"{statuses['locked'].count('fail')}/{seeds}"
        median = statistics.median(seconds)
        print(f"{name:<24} {rejected:>14} {flagged:>15} {errors:>7} {median:>8.2f}", flush=True)
    example = REPO / "examples" / "notification_simulator"
    candidate = root / "store-unlocked"
    shutil.copytree(example / "repository_after", candidate)
    storage = candidate / "notifsim" / "storage.py"
    storage.write_text(storage.read_text().replace("with self._lock:", "if True:"), encoding="utf-8")
    results = [graded_status(example, seed, "history.linearizable.store.candidate", candidate) for seed in range(seeds)]
    caught = sum(status == "fail" for status, _ in results)
    errors = sum(status == "error" for status, _ in results)
    median = statistics.median(seconds for _, seconds in results)
    print(f"{'example store, no lock':<24} {f'{caught}/{seeds}':>14} {'':>15} {errors:>7} {median:>8.2f}", flush=True)


def token_bucket_model() -> Model:
    """The token bucket's specification in plain Python (capacity 3)."""

    def step(tokens: int, op: Any) -> tuple[int, Any]:
        if op.method == "take":
            return (tokens - 1, returns(True)) if tokens > 0 else (tokens, returns(False))
        tokens = min(3, tokens + op.args[0])
        return tokens, returns(tokens)

    return Model(lambda: 3, step)


def timings(root: Path) -> None:
    shape = SHAPES["token-bucket"]
    folders = {
        variant: write_shape(root / "timing" / variant, shape, variant) for variant in ("before", "locked", "racy")
    }
    sys.path.insert(0, str(folders["before"]))  # the reference, importable here for the in-process rows
    print("\nchecker time (locked token bucket, 4 threads, one partition; racy: the time to a shrunk counterexample)")
    print(f"{'operations':>10}  {'variant':<7} {'model':<22} {'verdict':<13} {'steps':>7} {'seconds':>8}")
    for per_thread in (250, 2500):
        declared = declare(shape, operations_per_thread=per_thread, budget_seconds=600)
        for variant in ("locked", "racy"):
            recorded = record(declared, 1, folders[variant], root / "timing")
            history = history_from_json(recorded)
            spec = declared.child_spec(1, root / "timing")
            rows: list[tuple[str, Any]] = [("served (grade)", None), ("in-process, pickled", replay_model(spec))]
            if per_thread == 250:
                rows.append(("in-process, replayed", replay_model(spec, REPLAY)))
            rows.append(("pure Python", token_bucket_model()))
            for label, model in rows:
                started = time.monotonic()
                if model is None:
                    verdict = judge(declared, recorded, folders["before"], root / "timing")
                else:
                    verdict = check(history, model, budget_seconds=600)
                elapsed = time.monotonic() - started
                print(
                    f"{len(history.operations):>10}  {variant:<7} {label:<22} {verdict.status:<13} "
                    f"{verdict.steps:>7} {elapsed:>8.3f}",
                    flush=True,
                )
                assert verdict.status in (LINEARIZABLE, VIOLATION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--modes", nargs="*", default=list(MODES), choices=list(MODES))
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--timings-only", action="store_true")
    parser.add_argument("--pipeline-only", action="store_true", help="only whole grades through the pipeline")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the whole grades")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; module {MODULE!r}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        if not (args.timings_only or args.pipeline_only):
            detection(args.seeds, args.modes, args.shapes, root)
        if not (args.timings_only or args.no_pipeline):
            pipeline_detection(args.seeds, args.shapes, root)
        if not args.pipeline_only:
            timings(root)


if __name__ == "__main__":
    main()
