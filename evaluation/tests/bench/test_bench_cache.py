"""The benchmark cache: where it lives, what its key covers, and that a bad entry is ignored."""

from __future__ import annotations

from pathlib import Path

from taskfactory import make_task

from concgrade.bench.cache import cache_key, load_entry, store_entry
from concgrade.bench.measure import key_parts
from concgrade.files import cache_dir as default_cache_dir
from concgrade.run.plan import plan_runs
from concgrade.task.load import load_task
from concgrade.task.workloads import parse_workloads

WORKLOAD = {"name": "w", "callable": "counter:run_all", "setup": "hooks:fast", "params": {"n": 10}}


def keys(root: Path, **changes) -> dict[str, str]:
    task = load_task(root)
    (workload,) = parse_workloads({"workloads": [{**WORKLOAD, **changes}]}, None)
    return {spec.name: cache_key(key_parts(task, workload, spec)) for spec in plan_runs(task)}


def test_the_key_changes_with_the_code_the_workload_and_the_hooks_and_nothing_else(tmp_path):
    task = make_task(tmp_path / "task", extra={"tests/hooks.py": "def fast():\n    pass\n"})
    first = keys(task)
    assert first == keys(task) and first["before"] != first["after"]
    # The bar the speedup is judged against is not part of what is measured.
    assert keys(task, min_speedup=3) == first
    assert keys(task, params={"n": 11})["after"] != first["after"]
    (task / "tests" / "hooks.py").write_text("def fast():\n    return 1\n")
    changed_hook = keys(task)
    assert changed_hook["before"] != first["before"] and changed_hook["after"] != first["after"]
    (task / "repository_after" / "counter.py").write_text("def run_all(items):\n    return items\n")
    changed_after = keys(task)
    assert changed_after["after"] != changed_hook["after"] and changed_after["before"] == changed_hook["before"]


def test_entries_round_trip_and_a_damaged_one_is_a_miss(tmp_path):
    assert store_entry(tmp_path, "k1", {"implementation": {"samples": [0.1]}})
    assert load_entry(tmp_path, "k1")["implementation"] == {"samples": [0.1]}
    assert load_entry(tmp_path, "missing") is None
    (tmp_path / "bench" / "k2.json").write_text("{not json")
    assert load_entry(tmp_path, "k2") is None
    (tmp_path / "bench" / "k3.json").write_text('{"format": 1, "key": "other"}')
    assert load_entry(tmp_path, "k3") is None  # an entry copied under another name is not trusted
    assert load_entry(None, "k1") is None and store_entry(None, "k1", {}) is False


def test_where_the_cache_lives(tmp_path):
    assert default_cache_dir({"CONCGRADE_CACHE_DIR": str(tmp_path / "c")}) == tmp_path / "c"
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path / "xdg")}) == tmp_path / "xdg" / "concgrade"
    # A location that cannot be written (here: below a file) falls through to the next one.
    blocker = tmp_path / "file"
    blocker.write_text("")
    fallback = default_cache_dir({"XDG_CACHE_HOME": str(blocker / "x")})
    assert fallback is not None and not fallback.is_relative_to(blocker)
    assert default_cache_dir({"CONCGRADE_CACHE_DIR": str(blocker / "x")}) is None
