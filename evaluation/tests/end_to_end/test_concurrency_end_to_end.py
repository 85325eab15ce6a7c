"""End to end: manifest-declared probes, repeats, flaky tests, stress and the gate, on small fixture tasks."""

from __future__ import annotations

import json
import os
from pathlib import Path

from taskfactory import make_race_task, make_task

PROBED_BEFORE = """\
import asyncio
import time

def work(x):
    time.sleep(0.005)
    return x * 2

def run_all(items):
    return [work(x) for x in items]

async def fetch(x):
    await asyncio.sleep(0.005)
    return x * 2

async def fetch_all(items):
    return [await fetch(x) for x in items]

def crunch(x):
    return x * 2

def crunch_all(items):
    return [crunch(x) for x in items]
"""

PROBED_AFTER = """\
import asyncio
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor

def work(x):
    time.sleep(0.005)
    return x * 2

def run_all(items):
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(work, items))

async def fetch(x):
    await asyncio.sleep(0.005)
    return x * 2

async def fetch_all(items):
    semaphore = asyncio.Semaphore(2)

    async def one(x):
        async with semaphore:
            return await fetch(x)

    return await asyncio.gather(*(one(x) for x in items))

def crunch(x):
    return x * 2

def crunch_all(items):
    # spawn: the children re-import this module, so only the harness's start-up hook can count them
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        return pool.map(crunch, items)
"""

PROBED_P2P = """\
import asyncio
import counter

def test_threads():
    assert counter.run_all([1, 2, 3, 4, 5, 6]) == [2, 4, 6, 8, 10, 12]

def test_asyncio():
    assert asyncio.run(counter.fetch_all([1, 2, 3, 4, 5])) == [2, 4, 6, 8, 10]

def test_processes():
    assert counter.crunch_all([1, 2, 3, 4]) == [2, 4, 6, 8]
"""

DECLARED = """
[[probes]]
target = "counter.work"

[[probes]]
target = "counter:fetch"
kind = "asyncio"

[[probes]]
target = "counter:crunch"
kind = "processes"

[[probes]]
kind = "pending"
"""


def grade(cli, task: Path, out: Path, *extra: str, env: dict[str, str] | None = None):
    result = cli("--task", str(task), "--output", str(out), *extra, env=env)
    data = json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else None
    return result, data


def failing(data) -> list[str]:
    return [check["id"] for check in data["checks"] if check["status"] != "pass"]


def declared_figures(data, implementation: str, test_name: str) -> dict[str, dict]:
    test = next(t for t in data["implementations"][implementation]["tests"] if t["name"] == test_name)
    return {figures["kind"]: figures for figures in test["probes"] if figures.get("declared")}


def test_manifest_probes_measure_every_test_without_changing_the_tests(cli, tmp_path):
    task = make_task(tmp_path / "task", before=PROBED_BEFORE, after=PROBED_AFTER, p2p=PROBED_P2P)
    manifest = task / "evaluation" / "concgrade.toml"
    manifest.write_text(manifest.read_text() + DECLARED)
    result, data = grade(cli, task, tmp_path / "out")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p["kind"] for p in data["task"]["probes"]] == ["auto", "asyncio", "processes", "pending"]

    threads = declared_figures(data, "after", "test_threads")["threads"]
    assert threads["calls"] == 6 and threads["submitted"] == 6
    assert 1 <= threads["max_active"] <= 4 and 1 <= threads["max_pending"] <= 6  # a quick send may end mid-submit
    assert declared_figures(data, "before", "test_threads")["threads"]["max_active"] == 1

    fetch = declared_figures(data, "after", "test_asyncio")["asyncio"]
    assert (fetch["calls"], fetch["max_active"], fetch["max_live_tasks"]) == (5, 2, 5)
    assert declared_figures(data, "before", "test_asyncio")["asyncio"]["max_active"] == 1

    crunch = declared_figures(data, "after", "test_processes")["processes"]
    # Quick tasks: on a loaded machine one worker may run all four before the other starts, so the pool's
    # size is a bound here (exact peaks under each start method are tested with blocking tasks).
    assert (crunch["calls"], crunch["processes_alive_at_end"]) == (4, 0) and 1 <= crunch["max_processes"] <= 2
    assert 1 <= crunch["worker_pids"] <= 2
    before_crunch = declared_figures(data, "before", "test_processes")["processes"]
    assert (before_crunch["calls"], before_crunch["max_active"], before_crunch["max_processes"]) == (4, 1, 0)
    assert declared_figures(data, "after", "test_processes")["pending"]["max_pending"] == 4

    # The report shows the concurrency of each FAIL_TO_PASS test, before against after.
    html = (tmp_path / "out" / "report.html").read_text()
    assert 'id="profiles"' in html and "counter.work (manifest)" in html and "<svg" in html


def test_a_bad_probe_declaration_is_one_clear_error(cli, tmp_path):
    task = make_task(tmp_path / "task")
    manifest = task / "evaluation" / "concgrade.toml"
    manifest.write_text(manifest.read_text() + '\n[[probes]]\ntarget = "counter.work"\nkind = "fibers"\n')
    result = cli("--task", str(task), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("concgrade: error: ") and "probes #1: kind must be one of" in result.stderr


FLAKY_P2P = """\
import os
import counter

def test_stable():
    assert counter.run_all([1]) == [2]

def test_every_other_run():
    # Counts this implementation's runs in a file outside the scratch copies (a folder the grade lets runs write
    # only without a mount namespace): odd runs fail.
    path = os.path.join({state!r}, os.path.basename(os.path.dirname(counter.__file__)))
    with open(path, "a") as handle:
        handle.write("x")
    with open(path) as handle:
        assert len(handle.read()) % 2 == 1
"""


def test_repeats_name_a_flaky_test_and_reject(cli, tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o777)
    state.chmod(0o777)  # the runs' own users write it
    task = make_task(tmp_path / "task", p2p=FLAKY_P2P.replace("{state!r}", repr(str(state))))
    # State carried from one run to the next is what the mount namespace exists to prevent: this test needs it.
    env = {**os.environ, "CONCGRADE_ISOLATION_DISABLE": "mount_namespace"}
    result, data = grade(cli, task, tmp_path / "out", "--repeat", "3", "--jobs", "1", env=env)
    assert result.returncode == 1
    assert failing(data)[:2] == ["repeats.agree_on_before", "repeats.agree_on_after"]
    assert "test_every_other_run (passed 1 of 2)" in result.stdout
    after = {t["name"]: t for t in data["implementations"]["after"]["tests"]}
    # The second run contradicted the expectation: the third was not needed for the verdict.
    assert after["test_every_other_run"]["outcomes"] == ["passed", "failed"]
    assert (after["test_stable"]["runs"], after["test_stable"]["passes"]) == (2, 2)
    assert data["nondeterminism"]["runs"] == {"before": 2, "after": 2}


def test_the_gate_rejects_a_check_then_act_race_and_accepts_the_safe_bound(cli, tmp_path):
    racy = make_race_task(tmp_path / "racy", racy=True)
    for attempt in range(2):
        result, data = grade(cli, racy, tmp_path / f"racy{attempt}", "--gate")
        assert result.returncode == 1, result.stdout
        assert "f2p.passes_on_after" in failing(data)
        assert data["nondeterminism"]["gate"] and data["nondeterminism"]["stress"]

    safe = make_race_task(tmp_path / "safe", racy=False)
    result, data = grade(cli, safe, tmp_path / "safe_out", "--gate", "--seed", "1234")
    assert result.returncode == 0, result.stdout
    nondeterminism = data["nondeterminism"]
    assert (nondeterminism["repeat"], nondeterminism["seed"], nondeterminism["runs"]) == (
        5,
        1234,
        {"before": 5, "after": 5},
    )
    seeds = [repeat["stress"]["seed"] for repeat in data["implementations"]["after"]["repeats"]]
    assert seeds == [1234, 1235, 1236, 1237, 1238]
    test = next(t for t in data["implementations"]["after"]["tests"] if t["suite"] == "FAIL_TO_PASS")
    assert (test["runs"], test["passes"]) == (5, 5)
    assert [p["max_active"] for p in test["probes"]] == [2] * 5


def test_repeat_flags_are_checked(cli, tmp_path):
    for flags in (["--repeat", "0"], ["--seed", "-3"]):
        result = cli("--task", str(tmp_path), *flags)
        assert result.returncode == 2 and "Traceback" not in result.stderr
