"""Choosing isolation layers: what is tried in which order, what is recorded, and the forced fallbacks."""

from __future__ import annotations

from concgrade.run.sandbox import (
    DISABLE_VARIABLE,
    RunLimits,
    disabled_layers,
    pid_namespace_candidates,
    prepare_sandbox,
    resource_limits,
)

LIMITS = RunLimits(memory_bytes=2**30, max_tasks=100, cpu_seconds=60, file_size_bytes=2**20, output_bytes=2**20)


def test_root_tries_a_plain_pid_namespace_first_and_a_user_does_not():
    as_root = [mechanism for mechanism, _ in pid_namespace_candidates(True, set())]
    as_user = [mechanism for mechanism, _ in pid_namespace_candidates(False, set())]
    assert as_root == ["unshare", "unshare --user", "bwrap"]
    assert as_user == ["unshare --user", "bwrap"]
    assert [m for m, _ in pid_namespace_candidates(True, {"unshare"})] == ["bwrap"]
    assert pid_namespace_candidates(True, {"pid_namespace"}) == []


def test_rlimits_never_limit_address_space_and_count_processes_only_for_users():
    as_root = resource_limits(LIMITS, root=True, own_tasks=0)
    as_user = resource_limits(LIMITS, root=False, own_tasks=40)
    assert "RLIMIT_AS" not in as_root and "RLIMIT_NPROC" not in as_root
    assert as_user["RLIMIT_NPROC"] == (140, 140)  # the user's own processes keep their room
    assert as_root["RLIMIT_CORE"] == (0, 0) and as_root["RLIMIT_CPU"][0] == 60


def test_disabled_layers_come_from_the_environment():
    assert disabled_layers({DISABLE_VARIABLE: " cgroup, pid_namespace ,"}) == {"cgroup", "pid_namespace"}
    assert disabled_layers({}) == set()


def test_forced_fallbacks_are_recorded_with_their_reason():
    sandbox = prepare_sandbox(LIMITS, {DISABLE_VARIABLE: "pid_namespace,cgroup"})
    report = sandbox.report.to_dict()
    assert sandbox.wrapper == () and sandbox.watch_memory and sandbox.watch_tasks
    assert DISABLE_VARIABLE in report["unavailable"]["pid_namespace"]
    mechanisms = {layer["name"]: layer["mechanism"] for layer in report["layers"]}
    assert mechanisms["memory_limit"] == "watchdog" and mechanisms["task_limit"].endswith("watchdog")
    assert report["limits"]["max_tasks"] == 100


def test_the_detected_sandbox_preloads_pytest_before_the_plugin():
    sandbox = prepare_sandbox(LIMITS, {})
    assert sandbox.preload[0] == "pytest" and sandbox.preload[-1] == "concgrade.inside.plugin"
    assert "_pytest.skipping" in sandbox.preload and "pytest_timeout" in sandbox.preload
    layer = next(layer for layer in sandbox.report.layers if layer.name == "pid_namespace")
    assert layer.active == sandbox.namespaced  # whatever this machine offers, it is recorded truthfully
    mounts = next(layer for layer in sandbox.report.layers if layer.name == "mount_namespace")
    assert mounts.active == (sandbox.mounts is not None) and sandbox.private_tmp == mounts.active


def test_without_a_mount_namespace_the_layers_say_what_is_missing():
    sandbox = prepare_sandbox(LIMITS, {DISABLE_VARIABLE: "mount_namespace,audit_hook"})
    report = sandbox.report.to_dict()
    assert sandbox.mounts is None and not sandbox.private_tmp and not sandbox.audit_hook
    assert DISABLE_VARIABLE in report["unavailable"]["mount_namespace"]
    assert "machine's" in report["unavailable"]["private_tmp"] and "audit_hook" in report["unavailable"]


def test_a_fresh_user_per_process_only_when_the_grader_is_root():
    sandbox = prepare_sandbox(LIMITS, {})
    uids = {sandbox.run_uid() for _ in range(5)}
    if sandbox.run_as_user:
        assert None not in uids and len(uids) == 5 and min(uids) > 1_000_000
    else:
        assert uids == {None}


def test_pytest_builtin_plugins_read_from_source_are_pytests_own():
    """The list is read without importing pytest (off the grade's critical path): it must be pytest's."""
    from _pytest.config import default_plugins

    from concgrade.run.sandbox import _default_plugins_from_source, pytest_builtin_plugins

    assert _default_plugins_from_source() == tuple(default_plugins)
    assert pytest_builtin_plugins() == tuple(f"_pytest.{name}" for name in default_plugins)
