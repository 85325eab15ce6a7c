"""Tests of the concurrency rules and manifest constraint checks."""

from __future__ import annotations

import textwrap

import pytest

from concgrade.static.constraints import check_constraints
from concgrade.static.metrics import measure_sources
from concgrade.static.rules import RULES, find_issues, render_rules_table

REFERENCE_REFACTOR = textwrap.dedent(
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor, wait, FIRST_COMPLETED
    MAX_WORKERS = 50
    _executor = None
    _executor_lock = threading.Lock()
    def _get_executor():
        global _executor
        with _executor_lock:
            if _executor is None:
                _executor = ThreadPoolExecutor(max_workers=MAX_WORKERS)
            return _executor
    def notify_users(user_ids, payload):
        user_ids = list(user_ids)
        results = [None] * len(user_ids)
        pending = {}
        it = iter(range(len(user_ids)))
        ex = _get_executor()
        try:
            for i in it:
                pending[ex.submit(_notify_one, user_ids[i], payload)] = i
                if len(pending) >= MAX_WORKERS:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        results[pending.pop(f)] = f.result()
            ...
        except BaseException:
            for f in pending: f.cancel()
            raise
        return results
    """
)


def ids(source: str, path: str = "impl.py") -> list[str]:
    return [f.id for f in find_issues({path: textwrap.dedent(source)})]


def rule_lines(source: str, rule_id: str) -> list[int | None]:
    return [f.line for f in find_issues({"impl.py": textwrap.dedent(source)}) if f.id == rule_id]


# Each rule: sources it must flag, and sources it must leave alone.
FLAGGED = {
    "CG100": ["def f(:\n    pass\n"],
    "CG101": [
        """
        from concurrent.futures import ThreadPoolExecutor
        def notify(items):
            with ThreadPoolExecutor(max_workers=8) as ex:
                return list(ex.map(str, items))
        """,
        """
        import multiprocessing as mp
        def work(items):
            pool = mp.get_context("spawn").Pool(4)
            try:
                return pool.map(str, items)
            finally:
                pool.close()
        """,
    ],
    "CG102": [
        """
        import threading
        def notify(items):
            threads = [threading.Thread(target=print, args=(i,)) for i in items]
        """,
        """
        from multiprocessing import Process
        def run(jobs):
            for job in jobs:
                Process(target=job).start()
        """,
        """
        from threading import Thread
        def run(items):
            for i in range(len(items)):
                Thread(target=print, args=(items[i],)).start()
        """,
    ],
    "CG103": [
        """
        from concurrent.futures import ThreadPoolExecutor as TPE
        POOL = None
        def notify(items):
            with TPE(max_workers=len(items)) as ex:
                return list(ex.map(str, items))
        """,
        """
        import asyncio
        async def notify(items):
            n = max(1, len(items))
            sem = asyncio.Semaphore(n)
        """,
        """
        from multiprocessing import Pool
        def work(items):
            with Pool(processes=len(items) + 1) as pool:
                return pool.map(str, items)
        """,
    ],
    "CG104": [
        """
        from concurrent.futures import ThreadPoolExecutor
        EX = ThreadPoolExecutor(8)
        def notify(items):
            futures = [EX.submit(print, i) for i in items]
            return [f.result() for f in futures]
        """,
        """
        import asyncio
        async def notify(items):
            tasks = []
            for i in items:
                tasks.append(asyncio.create_task(send(i)))
            return await asyncio.gather(*tasks)
        """,
        """
        from concurrent.futures import ThreadPoolExecutor
        def notify(items):
            with ThreadPoolExecutor(4) as ex:
                return list(ex.map(str, items))
        """,
        """
        import asyncio
        async def notify(items):
            sem = asyncio.Semaphore(50)
            async def one(x):
                async with sem:
                    return await send(x)
            return await asyncio.gather(*(one(x) for x in items))
        """,
    ],
    "CG105": [
        "import queue\nq = queue.Queue()\n",
        "from queue import Queue\nq = Queue(maxsize=0)\n",
        "import asyncio\nasync def f():\n    q = asyncio.Queue()\n",
        "import queue\nq = queue.SimpleQueue()\n",
    ],
    "CG106": [
        """
        def worker():
            try:
                run()
            except:
                pass
        """,
        """
        def worker():
            try:
                run()
            except (ValueError, BaseException) as exc:
                log(exc)
                return None
        """,
    ],
    "CG107": [
        """
        import time
        def wait_all(threads):
            while any(t.is_alive() for t in threads):
                time.sleep(0.01)
        """,
        """
        from asyncio import sleep as nap
        async def wait_done(state):
            while not state.done:
                await nap(0.1)
        """,
    ],
    "CG108": [
        """
        from concurrent.futures import ThreadPoolExecutor
        def notify(items):
            ex = ThreadPoolExecutor(max_workers=4)
            return [f.result() for f in [ex.submit(print, i) for i in items[:4]]]
        """,
        """
        from concurrent.futures import ProcessPoolExecutor
        def notify(items):
            return ProcessPoolExecutor(2).submit(print, items).result()
        """,
    ],
    "CG109": [
        """
        from concurrent.futures import ThreadPoolExecutor
        _pool = None
        def get_pool():
            global _pool
            if _pool is None:
                _pool = ThreadPoolExecutor(8)
            return _pool
        """,
        """
        import threading
        from concurrent.futures import ThreadPoolExecutor
        _pool = None
        _lock = threading.Lock()
        def get_pool():
            global _pool
            if _pool is None:
                with _lock:  # the check ran outside the lock: two callers can both get here
                    _pool = ThreadPoolExecutor(8)
            return _pool
        """,
    ],
}

CLEAN = {
    "CG100": [REFERENCE_REFACTOR],
    "CG101": [
        REFERENCE_REFACTOR,
        """
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(4) as EX:
            RESULTS = list(EX.map(str, range(3)))
        """,
        """
        from concurrent.futures import ThreadPoolExecutor
        class Service:
            def __init__(self):
                self._pool = ThreadPoolExecutor(4)
            def close(self):
                self._pool.shutdown()
        """,
        """
        import functools
        from concurrent.futures import ThreadPoolExecutor
        @functools.lru_cache(maxsize=None)
        def get_pool():
            return ThreadPoolExecutor(4)
        """,
    ],
    "CG102": [
        REFERENCE_REFACTOR,
        """
        import threading
        WORKERS = 4
        def start(queue):
            threads = [threading.Thread(target=queue.get) for _ in range(WORKERS)]
            for t in threads:
                t.start()
        """,
    ],
    "CG103": [
        REFERENCE_REFACTOR,
        """
        from concurrent.futures import ThreadPoolExecutor
        def notify(items):
            with ThreadPoolExecutor(max_workers=min(len(items), 32)) as ex:
                return list(ex.map(str, items))
        """,
        """
        import threading
        def limit(items):
            return threading.Semaphore(min(8, len(items) or 1))
        """,
    ],
    "CG104": [
        REFERENCE_REFACTOR,
        """
        import asyncio
        async def notify(items, queue):
            workers = [worker(queue) for _ in range(8)]
            return await asyncio.gather(*(w for w in workers), return_exceptions=True)
        """,
        """
        import asyncio
        async def run_workers(queue):
            await asyncio.gather(*(worker(queue) for _ in range(8)))
        """,
        """
        import asyncio
        async def notify(items, sem):
            tasks = []
            for i in items:
                await sem.acquire()
                tasks.append(asyncio.create_task(send(i, sem)))
            return await asyncio.gather(*tasks)
        """,
        """
        from concurrent.futures import ThreadPoolExecutor, wait, FIRST_COMPLETED
        EX = ThreadPoolExecutor(8)
        def notify(items):
            it = iter(items)
            pending = {EX.submit(print, x) for x, _ in zip(it, range(8))}
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    for x in it:
                        pending.add(EX.submit(print, x))
                        break
        """,
        """
        import queue
        from concurrent.futures import ThreadPoolExecutor
        EX = ThreadPoolExecutor(8)
        window = queue.Queue(maxsize=16)
        def notify(items):
            for x in items:
                window.put(EX.submit(print, x))
        """,
    ],
    "CG105": [
        REFERENCE_REFACTOR,
        "import queue\nq = queue.Queue(maxsize=100)\n",
        "import asyncio\nasync def f(n):\n    q = asyncio.Queue(n)\n",
    ],
    "CG106": [
        REFERENCE_REFACTOR,
        """
        def worker():
            try:
                run()
            except Exception:
                pass
        """,
        """
        def worker():
            try:
                run()
            except:
                cleanup()
                raise
        """,
    ],
    "CG107": [
        REFERENCE_REFACTOR,
        """
        import time
        def fetch(url):
            while True:
                try:
                    return get(url)
                except OSError:
                    time.sleep(1)  # retry backoff, not polling
        """,
        """
        import asyncio
        async def spin(state):
            while not state.done:
                await asyncio.sleep(0)
        """,
        """
        import time
        def pace(items):
            for item in items:
                time.sleep(0.1)
        """,
    ],
    "CG108": [
        """
        from concurrent.futures import ThreadPoolExecutor
        def notify(items):
            ex = ThreadPoolExecutor(max_workers=4)
            try:
                return list(ex.map(str, items))
            finally:
                ex.shutdown(wait=True)
        """,
        """
        import atexit
        from concurrent.futures import ThreadPoolExecutor
        EX = ThreadPoolExecutor(4)
        atexit.register(EX.shutdown)
        """,
    ],
    "CG109": [
        REFERENCE_REFACTOR,
        """
        import threading
        from concurrent.futures import ThreadPoolExecutor
        _pool = None
        _lock = threading.RLock()
        def get_pool():
            global _pool
            if _pool is None:
                with _lock:
                    if _pool is None:
                        _pool = ThreadPoolExecutor(8)
            return _pool
        """,
        """
        import threading
        from concurrent.futures import ThreadPoolExecutor
        _pool = None
        _lock = threading.Lock()
        def get_pool():
            global _pool
            _lock.acquire()
            try:
                if _pool is None:
                    _pool = ThreadPoolExecutor(8)
            finally:
                _lock.release()
            return _pool
        """,
    ],
}


def test_every_rule_has_fixtures_both_ways():
    assert set(FLAGGED) == set(RULES) == set(CLEAN)


@pytest.mark.parametrize("rule_id, source", [(rule, src) for rule, sources in FLAGGED.items() for src in sources])
def test_rule_flags_its_fixture(rule_id, source):
    assert rule_id in ids(source)


@pytest.mark.parametrize("rule_id, source", [(rule, src) for rule, sources in CLEAN.items() for src in sources])
def test_rule_leaves_clean_fixture_alone(rule_id, source):
    assert rule_id not in ids(source)


def test_reference_refactor_has_no_error_level_finding():
    findings = find_issues({"notify_service.py": REFERENCE_REFACTOR})
    assert [f for f in findings if f.severity == "error"] == []
    # The long-lived global pool is worth mentioning, not failing.
    assert [(f.id, f.severity) for f in findings] == [("CG108", "info")]


def test_findings_carry_path_and_line():
    (finding,) = find_issues({"pkg/mod.py": "import queue\n\nq = queue.Queue()\n"})
    assert (finding.id, finding.path, finding.line) == ("CG105", "pkg/mod.py", 3)
    assert finding.to_dict() == {
        "id": "CG105",
        "severity": "warning",
        "message": finding.message,
        "path": "pkg/mod.py",
        "line": 3,
        "fixable": False,
        "fixed": False,
    }


def test_syntax_error_is_a_finding_not_an_exception_and_other_files_still_checked():
    findings = find_issues({"bad.py": "def f(:\n", "good.py": "import queue\nq = queue.Queue()\n"})
    assert [(f.id, f.path, f.line) for f in findings] == [("CG100", "bad.py", 1), ("CG105", "good.py", 2)]


def test_local_pool_without_shutdown_is_an_error_but_attribute_pool_a_warning():
    local = find_issues({"a.py": textwrap.dedent(FLAGGED["CG108"][0])})
    assert {f.severity for f in local if f.id == "CG108"} == {"error"}
    owned = find_issues(
        {
            "b.py": textwrap.dedent(
                """
                from concurrent.futures import ThreadPoolExecutor
                class Service:
                    def __init__(self):
                        self._pool = ThreadPoolExecutor(4)
                """
            )
        }
    )
    assert [(f.id, f.severity) for f in owned] == [("CG108", "warning")]


def cg106_severity(source: str) -> list[str]:
    return [f.severity for f in find_issues({"a.py": textwrap.dedent(source)}) if f.id == "CG106"]


def test_base_exception_handed_to_a_future_is_propagation_not_swallowing():
    source = """
    def run(fut, fn):
        try:
            fut.set_result(fn())
        except BaseException as exc:
            fut.set_exception(exc)
    """
    assert cg106_severity(source) == []


def test_base_exception_only_logged_is_a_warning_dropped_is_an_error():
    logged = """
    def run(fn):
        try:
            fn()
        except BaseException as exc:
            print("failed", exc)
    """
    dropped = """
    def run(fn):
        try:
            fn()
        except BaseException:
            return None
    """
    assert cg106_severity(logged) == ["warning"]
    assert cg106_severity(dropped) == ["error"]


def test_base_exception_after_reraised_interrupts_is_a_warning():
    source = """
    def run(fn):
        try:
            fn()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            pass
    """
    assert cg106_severity(source) == ["warning"]


def test_local_pool_stored_on_self_is_owned_by_the_object():
    source = """
    from concurrent.futures import ThreadPoolExecutor
    class Loop:
        def run(self, fn):
            executor = self._default
            if executor is None:
                executor = ThreadPoolExecutor()
                self._default = executor
            return executor.submit(fn)
    """
    assert not {"CG101", "CG108"} & set(ids(source))


def test_local_pool_stored_in_a_registry_does_not_crash_and_is_owned_there():
    source = """
    from concurrent.futures import ThreadPoolExecutor
    POOLS = {}
    def pool_for(key):
        ex = ThreadPoolExecutor(2)
        POOLS[key] = ex
        a, b = ex, None
        return ex.submit(print)
    """
    assert not {"CG101", "CG108"} & set(ids(source))


def test_local_pool_handed_to_another_owner_is_not_a_sure_leak():
    source = """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    def install(loop):
        executor = ThreadPoolExecutor(4)
        loop.set_default_executor(executor=executor)
    """
    assert "CG101" in ids(source) and "CG108" not in ids(source)


def test_pool_in_with_block_is_per_call_but_shut_down():
    found = ids(FLAGGED["CG101"][0])
    assert "CG101" in found and "CG108" not in found


def test_unconditional_global_assignment_is_per_call():
    # `global` without an `is None` check rebuilds the pool on every call: not a lazy singleton.
    source = """
    from concurrent.futures import ThreadPoolExecutor
    _pool = None
    def notify(items):
        global _pool
        _pool = ThreadPoolExecutor(4)
    """
    assert "CG101" in ids(source) and "CG109" not in ids(source)


def test_cg104_reports_each_loop_once():
    source = """
    from concurrent.futures import ThreadPoolExecutor
    EX = ThreadPoolExecutor(2)
    def notify(items):
        for i in items:
            EX.submit(print, i)
            EX.submit(print, -i)
    """
    assert rule_lines(source, "CG104") == [6]


def test_iterable_of_a_comprehension_is_not_per_item():
    # Only the element runs per item; the pool in the iterable is built once.
    source = """
    import threading
    def start(make):
        return [t for t in make(threading.Thread(target=print))]
    """
    assert "CG102" not in ids(source)


def test_alias_through_module_import_is_resolved():
    source = """
    import concurrent.futures as cf
    def notify(items):
        ex = cf.ThreadPoolExecutor(len(items))
    """
    assert {"CG101", "CG103", "CG108"} <= set(ids(source))


def test_rules_table_lists_every_rule():
    table = render_rules_table()
    assert all(f"| {rule_id} |" in table for rule_id in RULES)


# --- constraints ---------------------------------------------------------------------------------

THIRD_PARTY = "import requests\nfrom threading import Thread\n\ndef go():\n    Thread(target=print).start()\n"


def violations(source: str, constraints: dict) -> list:
    sources = {"impl.py": textwrap.dedent(source)}
    return check_constraints(measure_sources(sources), find_issues(sources), constraints)


def test_stdlib_only_flags_third_party_import_with_its_line():
    (violation,) = violations(THIRD_PARTY, {"stdlib_only": True})
    assert (violation.id, violation.path, violation.line) == ("stdlib_only", "impl.py", 1)
    assert "requests" in violation.message


def test_stdlib_only_passes_stdlib_and_local_imports():
    source = "import threading\nfrom . import helpers\nimport impl\n"
    assert violations(source, {"stdlib_only": True}) == []


def test_stdlib_only_fails_an_unprovable_dynamic_import():
    source = "import importlib\nmod = importlib.import_module(name)\n"
    (violation,) = violations(source, {"stdlib_only": True})
    assert "not provable" in violation.message


def test_forbidden_rule_id_and_dotted_name():
    found = violations(THIRD_PARTY, {"forbidden": ["CG105", "threading.Thread"]})
    # The construction, not the `from threading import Thread` line, is the use.
    assert [(v.id, v.line) for v in found] == [("forbidden", 5)]
    source = "import queue\nq = queue.Queue()\n"
    (by_rule,) = violations(source, {"forbidden": ["CG105"]})
    assert by_rule.line == 2 and "CG105" in by_rule.message


def test_forbidden_module_covers_everything_under_it():
    assert violations(THIRD_PARTY, {"forbidden": ["threading"]})
    assert violations(THIRD_PARTY, {"forbidden": ["multiprocessing"]}) == []


def test_required_name_must_be_used():
    assert violations(REFERENCE_REFACTOR, {"required": ["concurrent.futures.wait"]}) == []
    (missing,) = violations(THIRD_PARTY, {"required": ["concurrent.futures"]})
    assert missing.id == "required"


def test_max_severity_and_max_complexity():
    assert violations(REFERENCE_REFACTOR, {"max_severity": "warning"}) == []
    assert violations(REFERENCE_REFACTOR, {"max_severity": "bogus"})[0].id == "max_severity"
    (too_complex,) = violations(REFERENCE_REFACTOR, {"max_complexity": 5})
    assert "notify_users" in too_complex.message


def test_unknown_constraint_key_is_a_violation_not_ignored():
    (violation,) = violations("x = 1\n", {"stdlib_onyl": True})
    assert violation.id == "stdlib_onyl" and "unknown constraint" in violation.message


def test_constraints_on_unparsable_source_report_the_parse_error():
    (violation,) = violations("def f(:\n", {})
    assert violation.id == "parse" and violation.line == 1
