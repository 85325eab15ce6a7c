"""Agreement with the practice corpus: public dataset tasks graded zero-config, compared with their observed verdicts.

    python benchmarks/practice_corpus.py [--tasks DIR] [--reports DIR] [--mirror-root DIR] [--corpus DIR] [--fresh]
                                         [--only TASK_ID ...]

The corpus (`../shared/corpus/` beside the repository, or --corpus / $CORPUS_DIR) lists public dataset tasks, each
pinned to a commit, with the verdict their own documented commands gave (`practice.json`: `expected`). This
materializes them with the corpus's `materialize.sh` (from mirror clones under $MIRROR_ROOT, default
/work/.mirror, laid out as OWNER+NAME/repo) into DIR (default: a temporary folder), grades them as a dataset owner
would (`concgrade dataset DIR --install --jobs 2`), and prints one row per task (verdict, expected, the failing
checks, seconds) and the total agreement. It exits 0 and says why when the corpus or its repositories are absent.
`--fresh` grades with an empty cache (virtualenvs rebuilt, nothing reused); by default virtualenvs are reused and
grades are cached by the harness's own hash, so an edited harness always regrades. `--only` grades a few tasks
(by task id) while iterating on them; the total then counts those tasks only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_PY = REPO / "evaluation" / "run.py"
DEFAULT_MIRRORS = Path("/work/.mirror")
GRADE_TIMEOUT = 3600.0  # the whole dataset; a hang anywhere shows as this, never as a stuck benchmark


def corpus_folder(given: Path | None) -> Path:
    if given is not None:
        return given
    if os.environ.get("CORPUS_DIR"):
        return Path(os.environ["CORPUS_DIR"])
    return REPO.parent / "shared" / "corpus"


def missing_mirrors(entries: list[dict], mirrors: Path) -> list[str]:
    """Repositories of the corpus that have no mirror clone under `mirrors`."""
    names = sorted({entry["repo"] for entry in entries})
    return [name for name in names if not (mirrors / name.replace("/", "+") / "repo").is_dir()]


def materialize(corpus: Path, mirrors: Path, target: Path, listing: Path) -> None:
    done = subprocess.run(
        ["bash", str(corpus / "materialize.sh"), str(target), str(mirrors), str(listing)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"materialize.sh failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    skipped = [line for line in done.stderr.splitlines() if line.startswith("SKIP")]
    for line in skipped:
        print(line, file=sys.stderr)


def grade(tasks: Path, output: Path, jobs: int, cache: Path | None) -> tuple[dict, float, int]:
    env = dict(os.environ)
    if cache is not None:
        env["CONCGRADE_CACHE_DIR"] = str(cache)
    command = [sys.executable, str(RUN_PY), "dataset", str(tasks), "--install", "--jobs", str(jobs)]
    command += ["--json", "--output", str(output)]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=GRADE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise SystemExit(f"the dataset grade did not finish in {GRADE_TIMEOUT:g} s (a hang)") from None
    elapsed = time.perf_counter() - started
    if not done.stdout.strip():
        raise SystemExit(f"the dataset grade printed nothing (exit {done.returncode}): {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout), elapsed, done.returncode


def rows(entries: list[dict], document: dict) -> list[dict]:
    graded = {row["label"]: row for row in document["tasks"]}
    table = []
    for entry in entries:
        row = graded.get(entry["path"])
        verdict = row["verdict"] if row else "absent"
        failing = [check["id"] for check in (row or {}).get("failing_checks", [])]
        if row and row.get("error"):
            failing.append(row["error"][:90])
        table.append(
            {
                "task": entry["task_id"],
                "verdict": verdict,
                "expected": entry["expected"],
                "agree": verdict == entry["expected"],
                "failing": failing,
                "seconds": (row or {}).get("duration_seconds", 0.0),
            }
        )
    return table


def print_table(table: list[dict], elapsed: float) -> None:
    print("| task | verdict | expected | agree | failing checks | s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in table:
        agree = "yes" if row["agree"] else "**no**"
        failing = ", ".join(row["failing"]) or "-"
        print(f"| {row['task']} | {row['verdict']} | {row['expected']} | {agree} | {failing} | {row['seconds']:.1f} |")
    agreed = sum(row["agree"] for row in table)
    print(f"\nagreement: {agreed}/{len(table)}; dataset grade {elapsed:.1f} s wall")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--tasks", type=Path, help="materialize the tasks here (default: a temporary folder)")
    parser.add_argument("--mirror-root", type=Path, help="mirror clones (default: $MIRROR_ROOT, else /work/.mirror)")
    parser.add_argument("--corpus", type=Path, help="the corpus folder holding practice.json and materialize.sh")
    parser.add_argument("--jobs", type=int, default=2, help="tasks graded at once (default 2)")
    parser.add_argument("--fresh", action="store_true", help="grade with an empty cache (rebuild virtualenvs)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON instead of the table")
    parser.add_argument("--reports", type=Path, help="keep the dataset's reports here (default: a temporary folder)")
    parser.add_argument("--only", nargs="+", metavar="TASK_ID", help="grade only these tasks of the corpus")
    args = parser.parse_args()

    corpus = corpus_folder(args.corpus)
    if not (corpus / "practice.json").is_file() or not (corpus / "materialize.sh").is_file():
        print(f"skipped: no practice corpus at {corpus} (give --corpus or set CORPUS_DIR)")
        return 0
    entries = json.loads((corpus / "practice.json").read_text(encoding="utf-8"))
    if args.only:
        unknown = sorted(set(args.only) - {entry["task_id"] for entry in entries})
        if unknown:
            raise SystemExit(f"no such task in the corpus: {', '.join(unknown)}")
        entries = [entry for entry in entries if entry["task_id"] in args.only]
    mirrors = args.mirror_root or Path(os.environ.get("MIRROR_ROOT") or DEFAULT_MIRRORS)
    absent = missing_mirrors(entries, mirrors)
    if absent:
        print(f"skipped: no mirror clone under {mirrors} of {', '.join(absent)} (set MIRROR_ROOT or --mirror-root)")
        return 0
    with tempfile.TemporaryDirectory(prefix="practice-corpus-") as temporary:
        scratch = Path(temporary)
        tasks = args.tasks or scratch / "tasks"
        listing = scratch / "practice.json"
        listing.write_text(json.dumps(entries), encoding="utf-8")
        materialize(corpus, mirrors, tasks, listing)
        others = sorted({path.name for path in tasks.iterdir() if path.is_dir()} - {entry["path"] for entry in entries})
        if others:
            raise SystemExit(
                f"{tasks} also holds tasks that would be graded: {', '.join(others[:3])} (give an empty --tasks)"
            )
        cache = scratch / "cache" if args.fresh else None
        document, elapsed, _ = grade(tasks, args.reports or scratch / "reports", args.jobs, cache)
        table = rows(entries, document)
    if args.json:
        print(json.dumps({"rows": table, "seconds": round(elapsed, 1)}, indent=2))
    else:
        print_table(table, elapsed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
