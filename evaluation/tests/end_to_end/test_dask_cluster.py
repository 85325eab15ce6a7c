"""Dask beyond a LocalCluster: a scheduler and two workers started with `dask scheduler` / `dask worker` as
separate processes on loopback, each worker in its own empty folder and unable to see the client's files
(a mount namespace hides /tmp, where the dataset and the candidates live), as workers on other machines are.

The grades must come back the same as the local pool's, with their reports as data, and candidates given as
diffs (prepared in the client's temporary folders) must reach the workers too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, RUN_PY
from datasetfactory import make_dataset

distributed = pytest.importorskip("distributed", reason="Dask is an optional extra: pip install 'concgrade[dask]'")
pytestmark = pytest.mark.skipif(
    shutil.which("dask") is None or shutil.which("bwrap") is None,
    reason="needs the dask command (the dask extra) and bwrap (to hide the client's files from the workers)",
)
TASKS = ["pythonpath_task", "env_task"]
WORKERS = 2


def hidden_from(client_folders: list[str], worker: Path) -> list[str]:
    """A bwrap prefix: the machine as it is, but the client's folders are empty and the worker's own is there."""
    prefix = ["bwrap", "--bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for folder in client_folders:
        prefix += ["--tmpfs", folder]
    return [*prefix, "--bind", str(worker), str(worker), "--die-with-parent"]


@pytest.fixture(scope="module")
def cluster():
    """(scheduler address, worker folders): started as a team would, stopped afterwards."""
    # Outside /tmp, which the workers do not see: their own folders, as on machines of their own.
    base = Path(os.environ.get("CONCGRADE_DASK_TEST_HOME", Path.home() / ".cache" / "concgrade-dask-test"))
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    scheduler_file = base / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(REPO / "evaluation")}
    processes = [
        subprocess.Popen(
            [
                "dask",
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            cwd=base,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(base / "scheduler.log", "wb"),  # noqa: SIM115 - closed with the process
        )
    ]
    deadline = time.monotonic() + 60
    while not scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    folders = []
    for index in range(WORKERS):
        folder = base / f"worker-{index}"
        folder.mkdir()
        folders.append(folder)
        worker_env = {
            **env,
            "HOME": str(folder),
            "TMPDIR": str(folder / "tmp"),
            "XDG_CACHE_HOME": str(folder / "cache"),
        }
        (folder / "tmp").mkdir()
        processes.append(
            subprocess.Popen(
                [
                    *hidden_from(["/tmp"], folder),
                    "dask", "worker", "--scheduler-file", str(scheduler_file), "--nworkers", "1", "--nthreads", "1",
                    "--name", f"worker-{index}", "--local-directory", str(folder / "dask"), "--no-dashboard",
                ],
                cwd=folder,
                env=worker_env,
                stdout=subprocess.DEVNULL,
                stderr=open(folder / "worker.log", "wb"),  # noqa: SIM115
            )
        )  # fmt: skip
    address = json.loads(scheduler_file.read_text())["address"]
    with distributed.Client(address, timeout="60s") as client:
        client.wait_for_workers(WORKERS, timeout=120)
    yield address, folders
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
    shutil.rmtree(base, ignore_errors=True)


def run_py(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run([sys.executable, str(RUN_PY), *args], capture_output=True, text=True, timeout=900, env=env)


def grades(document: dict) -> dict[str, tuple[str, list[str]]]:
    return {r["label"]: (r["verdict"], sorted(c["id"] for c in r["failing_checks"])) for r in document["tasks"]}


def test_the_workers_cannot_see_the_clients_files(cluster, tmp_path):
    address, folders = cluster
    (tmp_path / "here.txt").write_text("the client's file\n")
    with distributed.Client(address, timeout="60s") as client:
        seen = client.run(os.path.exists, str(tmp_path / "here.txt"))
        cwds = client.run(os.getcwd)
    assert len(seen) == WORKERS and not any(seen.values())
    assert sorted(cwds.values()) == sorted(str(folder) for folder in folders)


def test_a_dataset_graded_on_the_cluster_is_graded_as_locally(cluster, tmp_path):
    address, folders = cluster
    dataset = make_dataset(tmp_path / "ds", TASKS)
    local = run_py("dataset", str(dataset), "--no-cache", "--output", str(tmp_path / "local"), cache=tmp_path / "c1")
    remote = run_py(
        "dataset", str(dataset), "--executor", "dask", "--scheduler", address, "--no-cache",
        "--output", str(tmp_path / "remote"), cache=tmp_path / "c2",
    )  # fmt: skip
    assert remote.returncode == local.returncode, remote.stdout + remote.stderr
    local_doc = json.loads((tmp_path / "local" / "results.json").read_text())
    remote_doc = json.loads((tmp_path / "remote" / "results.json").read_text())
    assert remote_doc["options"]["executor"] == "dask"
    assert grades(remote_doc) == grades(local_doc)
    assert all(row["error"] is None for row in remote_doc["tasks"]), [r["error"] for r in remote_doc["tasks"]]
    for name in TASKS:  # the reports came back as data and were written here, naming the client's folder
        results = json.loads((tmp_path / "remote" / name / "results.json").read_text())
        assert results["task"]["root"] != str(dataset / name)  # graded in the worker's own unpacked copy
        assert (tmp_path / "remote" / name / "report.html").is_file()
    rows = {row["label"]: row for row in remote_doc["tasks"]}
    assert rows["env_task"]["task"]["root"] == str(dataset / "env_task")
    # Nothing of the dataset was left on the workers: each job unpacked into a scratch folder it removed.
    leftovers = [p for folder in folders for p in (folder / "tmp").glob("concgrade-job-*")]
    assert leftovers == []


def test_candidates_as_diffs_reach_the_workers(cluster, tmp_path):
    address, _ = cluster
    dataset = make_dataset(tmp_path / "ds", ["pythonpath_task"])
    task = dataset / "pythonpath_task"
    after = (task / "repository_after" / "counter.py").read_text().splitlines(True)
    before = (task / "repository_before" / "counter.py").read_text().splitlines(True)
    import difflib

    patch = "".join(difflib.unified_diff(before, after, "a/counter.py", "b/counter.py"))
    lines = [
        {"task": "pythonpath_task", "id": "good", "candidate": patch},
        {"task": "pythonpath_task", "id": "lazy", "candidate": "repository_before_copy"},
    ]
    shutil.copytree(task / "repository_before", tmp_path / "repository_before_copy")
    file = tmp_path / "preds.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    result = run_py(
        "predictions", str(file), "--dataset", str(dataset), "--executor", "dask", "--scheduler", address,
        "--no-cache", "--json", cache=tmp_path / "c",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    document = json.loads(result.stdout)
    status = {row["label"]: row["status"] for row in document["predictions"]["rows"]}
    assert status["pythonpath_task/good"] == "resolved", document["predictions"]["rows"]
    assert status["pythonpath_task/lazy"] != "resolved"
