"""Tests of the structural metrics: size, complexity, imports and concurrency constructs."""

from __future__ import annotations

import ast
import json
import textwrap

import lizard
import pytest
from test_rules import REFERENCE_REFACTOR

from concgrade.static.metrics import ast_complexity, delta, measure_sources

SEQUENTIAL = textwrap.dedent(
    """
    import time

    # Send one notification at a time.
    def notify_users(user_ids, payload):
        results = []
        for uid in user_ids:
            results.append(_notify_one(uid, payload))
        return results
    """
)


def measure(source: str, path: str = "impl.py", **kwargs):
    return measure_sources({path: textwrap.dedent(source)}, **kwargs)


def kinds(source: str) -> dict[str, int]:
    return measure(source).construct_counts


def test_sizes_count_physical_and_logical_lines():
    metrics = measure("x = (1,\n     2)\n\n# comment\ndef f():\n    return x\n")
    assert metrics.lines == 6
    assert metrics.logical_lines == 3  # the assignment spans two lines; blanks and comments do not count
    assert len(metrics.functions) == 1 and metrics.classes == 0


def test_functions_are_qualified_and_one_liners_are_not_lost():
    source = """
    class Service:
        def send(self): return 1 if self else 2

        def run(self, items):
            def worker(x):
                return x and 1
            return [worker(i) for i in items if i]
    """
    found = {f.name: f for f in measure(source).functions}
    assert set(found) == {"Service.send", "Service.run", "Service.run.worker"}
    # lizard skips one-line defs; the AST count fills in with the same counting rules.
    assert (found["Service.send"].complexity, found["Service.send"].complexity_source) == (2, "ast")
    assert (found["Service.run"].complexity, found["Service.run"].complexity_source) == (3, "lizard")
    assert found["Service.run.worker"].complexity == 2


def test_ast_complexity_agrees_with_lizard_on_multiline_functions():
    source = textwrap.dedent(
        """
        def f(x, ys):
            if x and x > 1 or x < -1:
                return 1
            elif x:
                pass
            try:
                pass
            except ValueError:
                pass
            finally:
                pass
            while x:
                x -= 1
            g = lambda y: 1 if y else 2
            match x:
                case 1:
                    pass
                case _:
                    pass
            return {k: v for k, v in ys if k if v}
        """
    )
    (fn,) = lizard.analyze_file.analyze_source_code("f.py", source).function_list
    tree = ast.parse(source)
    assert ast_complexity(tree.body[0]) == fn.cyclomatic_complexity == 14


def test_reference_refactor_metrics():
    metrics = measure(REFERENCE_REFACTOR, "notify_service.py")
    assert metrics.max_complexity == 6  # notify_users: for, if, for, except, for
    assert metrics.max_nesting == 4  # try > for > if > for
    assert metrics.stdlib_only
    assert metrics.construct_counts == {"executor": 1, "lazy_global_executor": 1, "lock": 1, "wait": 1}
    executor = next(c for c in metrics.constructs if c.kind == "executor")
    assert (executor.function, executor.argument, executor.line) == ("_get_executor", "MAX_WORKERS", 11)
    lazy = next(c for c in metrics.constructs if c.kind == "lazy_global_executor")
    assert (lazy.name, lazy.function) == ("_executor", "_get_executor")


def test_aliases_are_resolved():
    source = """
    from concurrent.futures import ThreadPoolExecutor as TPE, as_completed as done_order
    import concurrent.futures as cf
    import multiprocessing as mp
    import threading as th
    from threading import *
    a = TPE(4)
    b = cf.ProcessPoolExecutor()
    c = mp.get_context("spawn").Pool(2)
    d = th.RLock()
    e = Semaphore(3)
    f = BoundedSemaphore(3)
    for x in done_order([]):
        pass
    class Worker(th.Thread):
        pass
    w = Worker()
    """
    assert kinds(source) == {
        "as_completed": 1,
        "executor": 1,
        "process_pool": 2,
        "rlock": 1,
        "semaphore": 2,
        "thread": 1,
    }


def test_queue_and_semaphore_boundedness():
    source = """
    import queue, asyncio, threading
    q1 = queue.Queue()
    q2 = queue.Queue(maxsize=10)
    q3 = queue.Queue(0)
    q4 = queue.Queue(limit)
    q5 = queue.SimpleQueue()
    s1 = threading.Semaphore(4)
    s2 = threading.BoundedSemaphore(4)
    async def f():
        q6 = asyncio.Queue(5)
    """
    found = {(c.line, c.name): c.bounded for c in measure(source).constructs}
    assert found == {
        (3, "queue.Queue"): False,
        (4, "queue.Queue"): True,
        (5, "queue.Queue"): False,  # 0 means unbounded
        (6, "queue.Queue"): True,  # a size is given, even if not a literal
        (7, "queue.SimpleQueue"): False,
        (8, "threading.Semaphore"): False,
        (9, "threading.BoundedSemaphore"): True,
        (11, "asyncio.Queue"): True,
    }


def test_asyncio_and_threading_primitives_are_counted():
    source = """
    import asyncio, threading
    import multiprocessing
    cond = threading.Condition()
    ev = threading.Event()
    bar = threading.Barrier(3)
    p = multiprocessing.Process(target=print)
    async def main(loop, items):
        sem = asyncio.Semaphore(10)
        q = asyncio.Queue()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(work())
        t = asyncio.create_task(work())
        await loop.run_in_executor(None, print)
        await asyncio.gather(t)
        await asyncio.wait([t])
    """
    assert kinds(source) == {
        "async_create_task": 2,
        "async_gather": 1,
        "async_queue": 1,
        "async_semaphore": 1,
        "async_task_group": 1,
        "barrier": 1,
        "condition": 1,
        "event": 1,
        "process": 1,
        "run_in_executor": 1,
        "wait": 1,
    }


def test_unguarded_lazy_global_is_not_counted_as_guarded():
    source = """
    from concurrent.futures import ThreadPoolExecutor
    _pool = None
    def get():
        global _pool
        if _pool is None:
            _pool = ThreadPoolExecutor(4)
        return _pool
    """
    assert "lazy_global_executor" not in kinds(source)


@pytest.mark.parametrize(
    "source, stdlib_only, origins",
    [
        ("import json\nfrom os import path\n", True, ["stdlib", "stdlib"]),
        ("import requests\n", False, ["third_party"]),
        ("from . import helpers\nfrom .sub import x\n", True, ["relative", "relative"]),
        ("import impl\nimport notif.service\n", True, ["local", "local"]),
        ("import importlib\nm = importlib.import_module('numpy')\n", False, ["stdlib", "third_party"]),
        ("m = __import__('json')\n", True, ["stdlib"]),
        ("import importlib as il\nm = il.import_module(name)\n", False, ["stdlib", "dynamic"]),
    ],
)
def test_stdlib_only(source, stdlib_only, origins):
    metrics = measure_sources({"impl.py": source}, local_modules=["notif"])
    assert metrics.stdlib_only is stdlib_only
    assert [i.origin for i in metrics.imports] == origins


def test_dynamic_imports_are_flagged_dynamic():
    metrics = measure("import importlib\nm = importlib.import_module('json')\n")
    assert [(i.module, i.dynamic) for i in metrics.imports] == [("importlib", False), ("json", True)]


def test_top_level_names_of_the_sources_are_local():
    metrics = measure_sources({"notif/service.py": "import notif.store\n", "notif/store.py": "x = 1\n"})
    assert metrics.stdlib_only


def test_syntax_error_is_carried_not_raised():
    metrics = measure_sources({"bad.py": "x = 1\ndef f(:\n", "good.py": "import json\n"})
    (error,) = metrics.errors
    assert (error.path, error.line) == ("bad.py", 2)
    assert error.message
    assert not metrics.stdlib_only  # cannot be proven for a file we could not read
    bad = next(f for f in metrics.files if f.path == "bad.py")
    assert bad.error == error and bad.lines == 2
    assert [i.module for i in metrics.imports] == ["json"]


def test_null_bytes_are_an_error_too():
    (error,) = measure_sources({"bin.py": "x = 1\x00\n"}).errors
    assert error.path == "bin.py"


def test_to_dict_is_json_ready():
    data = json.loads(json.dumps(measure(REFERENCE_REFACTOR).to_dict()))
    assert data["max_complexity"] == 6
    assert data["construct_counts"]["lazy_global_executor"] == 1
    assert data["function_list"][0]["name"] == "_get_executor"
    assert data["errors"] == []


def test_delta_reports_before_after_and_difference():
    before = measure(SEQUENTIAL, "notify_service.py")
    after = measure(REFERENCE_REFACTOR, "notify_service.py")
    changes = delta(before, after)
    assert changes["max_complexity"] == {"before": 2, "after": 6, "delta": 4}
    assert changes["functions"] == {"before": 1, "after": 2, "delta": 1}
    assert changes["constructs.executor"] == {"before": 0, "after": 1, "delta": 1}
    assert changes["lines"]["delta"] == after.lines - before.lines
    assert all(set(v) == {"before", "after", "delta"} for v in changes.values())
    json.dumps(changes)


def test_references_resolve_imported_names():
    metrics = measure("import time\nfrom threading import Thread as T\ntime.sleep(1)\n")
    assert {"time", "time.sleep", "threading", "threading.Thread"} <= set(metrics.references)
