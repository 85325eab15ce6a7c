"""Finding where run cgroups go (parsers on sample text), and a real run cgroup where this machine allows one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from concgrade.run.cgroups import ControllerHome, RunCgroup, cgroup_mounts, detect_cgroups, home_of, own_cgroups

V1_SELF = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/abc\n0::/\n"
V1_MOUNTS = (
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
)
V2_SELF = "0::/user.slice/user-1000.slice/session-2.scope\n"
V2_MOUNTS = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"


def test_v1_controllers_live_under_our_own_cgroup_of_each_hierarchy():
    own, mounts = own_cgroups(V1_SELF), cgroup_mounts(V1_MOUNTS)
    assert home_of("memory", mounts, own) == ControllerHome("memory", 1, Path("/sys/fs/cgroup/memory/process_api/abc"))
    assert home_of("pids", mounts, own) == ControllerHome("pids", 1, Path("/sys/fs/cgroup/pids"))


def test_v2_controllers_share_the_unified_hierarchy():
    own, mounts = own_cgroups(V2_SELF), cgroup_mounts(V2_MOUNTS)
    expected = Path("/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope")
    assert home_of("memory", mounts, own) == ControllerHome("memory", 2, expected)


def test_a_mount_rooted_below_the_hierarchy_root_is_resolved():
    mounts = cgroup_mounts("35 31 0:32 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
    own = own_cgroups("4:memory:/docker/x/run\n")
    assert home_of("memory", mounts, own).parent == Path("/sys/fs/cgroup/memory/run")


def test_no_cgroup_filesystem_means_no_home():
    assert home_of("pids", cgroup_mounts(""), own_cgroups(V1_SELF)) is None


def test_a_real_pids_cgroup_refuses_threads_past_its_limit_and_says_so():
    support = detect_cgroups()
    if "pids" not in support.homes:
        pytest.skip(f"no writable pids cgroup here: {support.unavailable.get('pids')}")
    group = RunCgroup.create(support, None, 8)
    try:
        script = (
            "import sys, threading\n"
            "open(sys.argv[1], 'w').write(str(__import__('os').getpid()))\n"
            "stop = threading.Event()\n"
            "try:\n    [threading.Thread(target=stop.wait).start() for _ in range(50)]\n"
            "except RuntimeError:\n    print('refused')\n"
            "stop.set()\n"
        )
        procs = group.procs_files()[0]
        done = subprocess.run([sys.executable, "-c", script, procs], capture_output=True, text=True, timeout=60)
        assert "refused" in done.stdout
        assert any("processes/threads" in breach for breach in group.breaches())
    finally:
        group.kill_and_remove()
    assert not group.folders
