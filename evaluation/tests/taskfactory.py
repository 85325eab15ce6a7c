"""Small fixture tasks written into a temporary folder, the way pytester writes test files."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

MANIFEST = """\
[task]
name = "{name}"
modules = ["counter"]

[suites]
PASS_TO_PASS = ["tests/test_p2p.py"]
FAIL_TO_PASS = ["tests/test_f2p.py"]

[limits]
test_timeout = {test_timeout}
run_timeout = {run_timeout}
"""

# A sequential implementation and a concurrent one of the same tiny API.
SEQUENTIAL = """\
import time

def work(x):
    time.sleep(0.005)
    return x * 2

def run_all(items):
    return [work(x) for x in items]
"""

CONCURRENT = """\
import time
from concurrent.futures import ThreadPoolExecutor

def work(x):
    time.sleep(0.005)
    return x * 2

def run_all(items):
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda x: work(x), items))
"""

P2P_TESTS = """\
import counter

def test_doubles_in_order():
    assert counter.run_all([1, 2, 3]) == [2, 4, 6]

def test_empty():
    assert counter.run_all([]) == []
"""

F2P_TESTS = """\
import threading
import counter

def test_runs_concurrently(concurrency_probe, monkeypatch):
    barrier = threading.Barrier(2, timeout=1.5)

    def meet(x):
        barrier.wait()
        return x * 2

    monkeypatch.setattr(counter, "work", meet)
    probe = concurrency_probe(counter, "work")
    assert counter.run_all([1, 2]) == [2, 4]
    assert probe.max_active == 2
"""

# fail_where_no_line_is(spin) fails spin at a bytecode without a line number (on Python 3.11 the jump back of its
# loop over a `with` block), from a trace function: the traceback entry a signal handler landing there leaves.
LINELESS_FAILURE = """
import dis, sys, threading

def spin():
    for lock in [threading.Lock()] * 3:
        with lock:
            pass

def fail_where_no_line_is(function):
    offsets = {i.offset for i in dis.get_instructions(function) if i.positions and i.positions.lineno is None}

    def tracer(frame, event, arg):
        if frame.f_code is not function.__code__:
            return None
        frame.f_trace_opcodes = True
        if event == "opcode" and frame.f_lasti in offsets:
            sys.settrace(None)
            raise AssertionError("failed at a bytecode with no line number")
        return tracer

    sys.settrace(tracer)
    try:
        function()
    finally:
        sys.settrace(None)
"""


def write_files(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def make_task(
    root: Path,
    *,
    before: str = SEQUENTIAL,
    after: str = CONCURRENT,
    p2p: str = P2P_TESTS,
    f2p: str = F2P_TESTS,
    extra: dict[str, str] | None = None,
    test_timeout: float = 10,
    run_timeout: float = 60,
) -> Path:
    """A complete small task: sequential before, thread-pool after, one P2P and one F2P file."""
    write_files(
        root,
        {
            "repository_before/counter.py": before,
            "repository_after/counter.py": after,
            "tests/test_p2p.py": p2p,
            "tests/test_f2p.py": f2p,
            "evaluation/concgrade.toml": MANIFEST.format(
                name=root.name, test_timeout=test_timeout, run_timeout=run_timeout
            ),
            "trajectory/001_refactor.md": "# Refactor\n\nUse a pool of four threads.\n",
            "README.md": "# A fixture task\n",
            "Dockerfile": "FROM python:3.11-slim\n",
            **(extra or {}),
        },
    )
    return root


# A bound of two sends at once, kept by a limiter; the racy one checks the bound and takes a slot in
# two steps (check-then-act), which a plain run almost never shows and stress shows at once.
LIMITER = """\
import threading
import time

LIMIT = 2


class Limiter:
    def __init__(self, limit):
        self._lock = threading.Lock()
        self._active = 0
        self.limit = limit

    def acquire(self):
        while True:
{acquire}
            time.sleep(0.0005)

    def release(self):
        with self._lock:
            self._active -= 1


def work(x):
    time.sleep(0.002)
    return x * 2


def run_all(items):
    limiter = Limiter(LIMIT)
    results = [None] * len(items)

    def run(index):
        limiter.acquire()
        try:
            results[index] = work(items[index])
        finally:
            limiter.release()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
"""

RACY_ACQUIRE = """\
            with self._lock:
                free = self._active < self.limit
            if free:
                with self._lock:
                    self._active += 1
                return"""

SAFE_ACQUIRE = """\
            with self._lock:
                if self._active < self.limit:
                    self._active += 1
                    return"""

RACY_LIMITER = LIMITER.replace("{acquire}", RACY_ACQUIRE)
SAFE_LIMITER = LIMITER.replace("{acquire}", SAFE_ACQUIRE)

BOUND_F2P_TESTS = """\
import threading
import counter

def test_two_sends_at_once_never_three(concurrency_probe, monkeypatch):
    barrier = threading.Barrier(2, timeout=5)

    def meet(x):
        assert threading.current_thread() is not threading.main_thread(), "sends run one after another"
        barrier.wait()
        return x * 2

    monkeypatch.setattr(counter, "work", meet)
    probe = concurrency_probe(counter, "work")
    assert counter.run_all(list(range(40))) == [2 * x for x in range(40)]
    assert probe.max_active == 2
"""


def make_race_task(root: Path, *, racy: bool) -> Path:
    """The bounded-sends task whose after keeps the bound with a racy (check-then-act) or a safe limiter."""
    return make_task(root, after=RACY_LIMITER if racy else SAFE_LIMITER, f2p=BOUND_F2P_TESTS, test_timeout=10)


def tree_digest(root: Path) -> dict[str, str]:
    """Every file below root with its content hash: the user's folder must be byte-identical after a grade."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# Looks at the pool's size only in stress mode: the fixture's deterministic way to kill a mutant only there.
STRESS_ONLY = """\
import inspect
import time
import counter

def test_pool_has_four_workers_under_stress(monkeypatch):
    sizes = []
    real = getattr(counter, "ThreadPoolExecutor", None)
    if real is not None:

        class Recording(real):
            def __init__(self, max_workers=None, *args, **kwargs):
                sizes.append(max_workers)
                super().__init__(max_workers, *args, **kwargs)

        monkeypatch.setattr(counter, "ThreadPoolExecutor", Recording)
    assert counter.run_all([1, 2]) == [2, 4]
    if real is not None and not inspect.isbuiltin(time.sleep):  # stressed: its sleep yields first
        assert sizes == [4]
"""


def mutants_task(root: Path, table: str = "") -> Path:
    """The small task with a P2P test that kills pool-size mutants only under stress, and `table` appended
    to its manifest (e.g. a [mutants] table)."""
    make_task(root, extra={"tests/test_stress_only.py": STRESS_ONLY})
    manifest = root / "evaluation" / "concgrade.toml"
    text = manifest.read_text().replace(
        'PASS_TO_PASS = ["tests/test_p2p.py"]', 'PASS_TO_PASS = ["tests/test_p2p.py", "tests/test_stress_only.py"]'
    )
    manifest.write_text(text + table)
    return root
