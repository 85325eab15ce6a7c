"""Each mutation operator: the exact mutant of a module it applies to, and nothing for one it does not."""

from __future__ import annotations

import pytest
from mutant_cases import CASES

from concgrade.static.mutants import find_operator, generate_mutants, operator_catalog


def mutated(source: str, operator: str, path: str = "impl.py") -> list[str]:
    """The text of each mutant the operator makes of `source`."""
    found = find_operator(operator)
    assert found is not None, operator
    return [mutant.source for mutant in generate_mutants({path: source}, [found])]


def test_every_operator_has_a_case():
    assert sorted(CASES) == [op.id for op in operator_catalog()]


@pytest.mark.parametrize("operator", sorted(CASES))
def test_operator_makes_exactly_the_expected_mutant(operator):
    case = CASES[operator]
    assert mutated(case.source, operator, f"{case.module}.py") == [case.expected]


@pytest.mark.parametrize("operator", sorted(CASES))
def test_operator_leaves_a_module_it_does_not_apply_to_alone(operator):
    assert mutated(CASES[operator].not_applicable, operator) == []


def test_a_mutant_points_at_the_line_it_changes():
    (mutant,) = generate_mutants({"pool.py": CASES["CM203-bound-plus-one"].source}, [find_operator("CM203")])
    assert mutant.line == 3  # POOL = ThreadPoolExecutor(max_workers=2)
    assert mutant.file == "pool.py"
    assert mutant.description == "2 + 1 in ThreadPoolExecutor() at module level"


# Further shapes each operator is documented to recognize: (operator, source, every mutant's text).
SHAPES = {
    "multiprocessing map loses its chunk size when run inline": (
        "CM101",
        "from multiprocessing import Pool\n\n\ndef checksums(items):\n"
        "    with Pool(processes=2) as pool:\n        return pool.map(len, items, 4)\n",
        [
            "from multiprocessing import Pool\n\n\ndef checksums(items):\n"
            "    with Pool(processes=2) as pool:\n        return list(map(len, items))\n"
        ],
    ),
    "a semaphore's acquire and its release in finally go together": (
        "CM201",
        "import threading\n\nSLOTS = threading.BoundedSemaphore(4)\n\n\ndef call_limited(fn):\n"
        "    SLOTS.acquire()\n    try:\n        return fn()\n    finally:\n        SLOTS.release()\n",
        ["import threading\n\nSLOTS = threading.BoundedSemaphore(4)\n\n\ndef call_limited(fn):\n    return fn()\n"],
    ),
    "an asyncio semaphore leaves the other items of its `async with`": (
        "CM201",
        "import asyncio\n\n\nclass Client:\n    def __init__(self):\n"
        "        self._slots = asyncio.Semaphore(10)\n        self._lock = asyncio.Lock()\n\n"
        "    async def fetch(self, get):\n        async with self._slots, self._lock:\n            return await get()\n",
        [
            "import asyncio\n\n\nclass Client:\n    def __init__(self):\n"
            "        self._slots = asyncio.Semaphore(10)\n        self._lock = asyncio.Lock()\n\n"
            "    async def fetch(self, get):\n        async with self._lock:\n            return await get()\n"
        ],
    ),
    "a multiprocessing pool's positional size is dropped": (
        "CM202",
        "import multiprocessing as mp\n\n\ndef run(items):\n    with mp.Pool(4) as pool:\n        return pool.map(abs, items)\n",
        [
            "import multiprocessing as mp\n\n\ndef run(items):\n    with mp.Pool() as pool:\n        return pool.map(abs, items)\n"
        ],
    ),
    "a bound given by an expression grows by one": (
        "CM203",
        "import queue\n\n\ndef make(size):\n    return queue.Queue(maxsize=size * 2)\n",
        ["import queue\n\n\ndef make(size):\n    return queue.Queue(maxsize=size * 2 + 1)\n"],
    ),
    "an unbounded queue has no bound to shift": ("CM203", "import queue\n\nQ = queue.Queue(0)\n", []),
    "a bound of one has no permit to lose": ("CM204", "import threading\n\nS = threading.Semaphore(1)\n", []),
    "a module's pool is made again inside the function that uses it": (
        "CM301",
        "from concurrent.futures import ThreadPoolExecutor\n\nPOOL = ThreadPoolExecutor(max_workers=8)\n\n\n"
        'def run_all(jobs):\n    """Run every job on the shared pool."""\n'
        "    return [f.result() for f in [POOL.submit(job) for job in jobs]]\n",
        [
            "from concurrent.futures import ThreadPoolExecutor\n\nPOOL = ThreadPoolExecutor(max_workers=8)\n\n\n"
            'def run_all(jobs):\n    """Run every job on the shared pool."""\n'
            "    POOL = ThreadPoolExecutor(max_workers=8)\n"
            "    return [f.result() for f in [POOL.submit(job) for job in jobs]]\n"
        ],
    ),
    "a function that rebinds the module's pool is left alone": (
        "CM301",
        "from concurrent.futures import ThreadPoolExecutor\n\nPOOL = ThreadPoolExecutor(max_workers=8)\n\n\n"
        "def reset():\n    global POOL\n    POOL = ThreadPoolExecutor(max_workers=8)\n",
        [],
    ),
    "an islice window over a lazy input takes all of it (sys.maxsize), first fill and refill alike": (
        "CM401",
        "import itertools\nfrom concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait\n\n"
        "POOL = ThreadPoolExecutor(max_workers=4)\n\n\ndef run_all(jobs):\n    upcoming = iter(jobs)\n"
        "    pending = {POOL.submit(job) for job in itertools.islice(upcoming, 4)}\n    while pending:\n"
        "        done, pending = wait(pending, return_when=FIRST_COMPLETED)\n"
        "        pending |= {POOL.submit(job) for job in itertools.islice(upcoming, len(done))}\n",
        [
            "import itertools\nfrom concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait\n\n"
            "POOL = ThreadPoolExecutor(max_workers=4)\n\n\ndef run_all(jobs):\n    upcoming = iter(jobs)\n"
            "    pending = {POOL.submit(job) for job in itertools.islice(upcoming, "
            "__import__('sys', fromlist=['maxsize']).maxsize)}\n    while pending:\n"
            "        done, pending = wait(pending, return_when=FIRST_COMPLETED)\n"
            "        pending |= {POOL.submit(job) for job in itertools.islice(upcoming, len(done))}\n",
            "import itertools\nfrom concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait\n\n"
            "POOL = ThreadPoolExecutor(max_workers=4)\n\n\ndef run_all(jobs):\n    upcoming = iter(jobs)\n"
            "    pending = {POOL.submit(job) for job in itertools.islice(upcoming, 4)}\n    while pending:\n"
            "        done, pending = wait(pending, return_when=FIRST_COMPLETED)\n"
            "        pending |= {POOL.submit(job) for job in itertools.islice(upcoming, "
            "__import__('sys', fromlist=['maxsize']).maxsize)}\n",
        ],
    ),
    "a window without a bounding constant leaves the queue's drain threads unsized": (
        "CM402",
        "import itertools\nfrom concurrent.futures import ThreadPoolExecutor\n\nPOOL = ThreadPoolExecutor(4)\n\n\n"
        "def first(jobs):\n    return [POOL.submit(j) for j in itertools.islice(jobs, 4)]\n",
        [],
    ),
    "a release in finally is taken away, leaving `finally: pass`": (
        "CM501",
        "import threading\n\nLOCK = threading.Lock()\n\n\ndef critical(fn):\n"
        "    LOCK.acquire()\n    try:\n        return fn()\n    finally:\n        LOCK.release()\n",
        [
            "import threading\n\nLOCK = threading.Lock()\n\n\ndef critical(fn):\n"
            "    LOCK.acquire()\n    try:\n        return fn()\n    finally:\n        pass\n"
        ],
    ),
    "a release moved out of finally still comes after the returned value is made": (
        "CM502",
        "import threading\n\nLOCK = threading.Lock()\n\n\ndef critical(fn):\n"
        "    LOCK.acquire()\n    try:\n        return fn()\n    finally:\n        LOCK.release()\n",
        [
            "import threading\n\nLOCK = threading.Lock()\n\n\ndef critical(fn):\n"
            "    LOCK.acquire()\n    _result = fn()\n    LOCK.release()\n    return _result\n"
        ],
    ),
    "a block that can return early keeps its `with`": (
        "CM502",
        "import threading\n\nL = threading.Lock()\n\n\ndef close(state):\n    with L:\n"
        "        if state.closed:\n            return\n        state.closed = True\n",
        [],
    ),
    "a condition that is waited on or notified keeps its lock, and plain writes are no read-modify-write": (
        "CM503",
        "import threading\n\n\nclass Box:\n    def __init__(self):\n        self._changed = threading.Condition()\n"
        "        self._lock = threading.Lock()\n        self.items = []\n        self.total = 0\n\n"
        "    def put(self, item):\n        with self._changed:\n            self.items.append(item)\n"
        "            self.total += 1\n            self._changed.notify()\n\n"
        "    def reset(self):\n        with self._lock:\n            fresh = []\n            fresh.append(0)\n"
        "            self.items = fresh\n",
        [],
    ),
    "a lazily made global's check-then-act loses its lock": (
        "CM503",
        "import threading\n\n_pool = None\n_lock = threading.Lock()\n\n\ndef pool():\n    global _pool\n"
        "    with _lock:\n        if _pool is None:\n            _pool = object()\n        return _pool\n",
        [
            "import threading\n\n_pool = None\n_lock = threading.Lock()\n\n\ndef pool():\n    global _pool\n"
            "    if _pool is None:\n        _pool = object()\n    return _pool\n"
        ],
    ),
    "a handler's tuple of exception classes widens its Exception": (
        "CM601",
        "def f(g):\n    try:\n        return g()\n    except (ValueError, Exception):\n        return None\n",
        ["def f(g):\n    try:\n        return g()\n    except (ValueError, BaseException):\n        return None\n"],
    ),
    "a bare except's re-raise is dropped, but not that of a handler nested inside it": (
        "CM602",
        'def run(job, log):\n    try:\n        return job()\n    except:\n        try:\n            log("failed")\n'
        "        except ValueError:\n            raise\n        raise\n",
        [
            'def run(job, log):\n    try:\n        return job()\n    except:\n        try:\n            log("failed")\n'
            "        except ValueError:\n            raise\n"
        ],
    ),
    "an ordinary handler's re-raise is not a fatal one": (
        "CM603",
        "def f(g):\n    try:\n        return g()\n    except ValueError:\n        raise\n",
        [],
    ),
    "shutdown(cancel_futures=True) stops cancelling": (
        "CM604",
        "def stop(pool):\n    pool.shutdown(wait=True, cancel_futures=True)\n",
        ["def stop(pool):\n    pool.shutdown(wait=True, cancel_futures=False)\n"],
    ),
    "str() of something that is not the caught exception is left alone": (
        "CM605",
        "def f(g, value):\n    try:\n        return g()\n    except ValueError as exc:\n        return str(value)\n",
        [],
    ),
    "futures read in order, a multiprocessing map, and a gather all come back in completion order": (
        "CM701",
        "import asyncio\nfrom concurrent.futures import ThreadPoolExecutor\nfrom multiprocessing import Pool\n\n"
        "POOL = ThreadPoolExecutor(max_workers=4)\n\n\ndef run_all(jobs):\n"
        "    futures = [POOL.submit(job) for job in jobs]\n    return [future.result() for future in futures]\n\n\n"
        "def checksums(items):\n    with Pool(2) as pool:\n        return pool.map(len, items)\n\n\n"
        "async def fetch_all(fetchers):\n    return await asyncio.gather(*[fetch() for fetch in fetchers])\n",
        [
            "import asyncio\nfrom concurrent.futures import ThreadPoolExecutor\nfrom multiprocessing import Pool\n\n"
            "POOL = ThreadPoolExecutor(max_workers=4)\n\n\ndef run_all(jobs):\n"
            "    futures = [POOL.submit(job) for job in jobs]\n    return [future.result() for future in "
            "__import__('concurrent.futures', fromlist=['as_completed']).as_completed(futures)]\n\n\n"
            "def checksums(items):\n    with Pool(2) as pool:\n        return pool.map(len, items)\n\n\n"
            "async def fetch_all(fetchers):\n    return await asyncio.gather(*[fetch() for fetch in fetchers])\n",
            "import asyncio\nfrom concurrent.futures import ThreadPoolExecutor\nfrom multiprocessing import Pool\n\n"
            "POOL = ThreadPoolExecutor(max_workers=4)\n\n\ndef run_all(jobs):\n"
            "    futures = [POOL.submit(job) for job in jobs]\n    return [future.result() for future in futures]\n\n\n"
            "def checksums(items):\n    with Pool(2) as pool:\n        return list(pool.imap_unordered(len, items))\n\n\n"
            "async def fetch_all(fetchers):\n    return await asyncio.gather(*[fetch() for fetch in fetchers])\n",
            "import asyncio\nfrom concurrent.futures import ThreadPoolExecutor\nfrom multiprocessing import Pool\n\n"
            "POOL = ThreadPoolExecutor(max_workers=4)\n\n\ndef run_all(jobs):\n"
            "    futures = [POOL.submit(job) for job in jobs]\n    return [future.result() for future in futures]\n\n\n"
            "def checksums(items):\n    with Pool(2) as pool:\n        return pool.map(len, items)\n\n\n"
            "async def fetch_all(fetchers):\n"
            "    return [await _aw for _aw in asyncio.as_completed([fetch() for fetch in fetchers])]\n",
        ],
    ),
    "slots appended as a lazy input is read, filled by index, are filled in completion order": (
        "CM701",
        "from concurrent.futures import ThreadPoolExecutor, as_completed\n\nPOOL = ThreadPoolExecutor(max_workers=4)\n\n\n"
        "def run_all(jobs):\n    results: list = []\n    futures = {}\n\n    def take(job):\n"
        "        results.append(None)\n        futures[POOL.submit(job)] = len(results) - 1\n\n"
        "    for job in jobs:\n        take(job)\n    for future in as_completed(futures):\n"
        "        results[futures[future]] = future.result()\n    return results\n",
        [
            "from concurrent.futures import ThreadPoolExecutor, as_completed\n\nPOOL = ThreadPoolExecutor(max_workers=4)\n\n\n"
            "def run_all(jobs):\n    results: list = []\n    futures = {}\n\n    def take(job):\n"
            "        results.append(None)\n        futures[POOL.submit(job)] = len(results) - 1\n\n"
            "    for job in jobs:\n        take(job)\n    for future in as_completed(futures):\n"
            "        results[results.index(None)] = future.result()\n    return results\n",
        ],
    ),
    "results keyed by value need to know which list the results follow": (
        "CM702",
        "def run_all(jobs, count):\n    results = [None] * count\n    for index, job in enumerate(jobs):\n"
        "        results[index] = job()\n    return results\n",
        [],
    ),
    "an awaited join is left unawaited; a sleep, a str.join and os.path.join are not waits": (
        "CM801",
        "import asyncio\nimport os\n\n\nasync def drain(queue):\n    await queue.join()\n"
        '    await asyncio.sleep(0)\n    print(", ".join(["a", "b"]))\n    os.path.join("a", "b")\n',
        [
            "import asyncio\nimport os\n\n\nasync def drain(queue):\n    queue.join()\n"
            '    await asyncio.sleep(0)\n    print(", ".join(["a", "b"]))\n    os.path.join("a", "b")\n'
        ],
    ),
    "a pool's `with` block ends in a shutdown that does not wait": (
        "CM802",
        "from concurrent.futures import ThreadPoolExecutor\n\n\ndef run_all(jobs):\n"
        "    with ThreadPoolExecutor(max_workers=2) as pool:\n        for job in jobs:\n            pool.submit(job)\n",
        [
            "from concurrent.futures import ThreadPoolExecutor\n\n\ndef run_all(jobs):\n"
            "    pool = ThreadPoolExecutor(max_workers=2)\n    try:\n        for job in jobs:\n"
            "            pool.submit(job)\n    finally:\n        pool.shutdown(wait=False)\n"
        ],
    ),
    "a pool made at module level starts a worker at import": (
        "CM803",
        "from concurrent.futures import ThreadPoolExecutor\n\nPOOL = ThreadPoolExecutor(max_workers=8)\n",
        [
            "from concurrent.futures import ThreadPoolExecutor\n\nPOOL = ThreadPoolExecutor(max_workers=8)\nPOOL.submit(int)\n"
        ],
    ),
    "a worker thread's loop sleeps on each pass, through the module's own `sleep`": (
        "CM804",
        "import queue\nimport threading\nfrom time import sleep\n\n\nclass Worker:\n    def __init__(self):\n"
        "        self.jobs = queue.Queue()\n        self.thread = threading.Thread(target=self._run, daemon=True)\n\n"
        '    def _run(self):\n        """Run jobs until None."""\n        while True:\n'
        "            job = self.jobs.get()\n            if job is None:\n                return\n            job()\n",
        [
            "import queue\nimport threading\nfrom time import sleep\n\n\nclass Worker:\n    def __init__(self):\n"
            "        self.jobs = queue.Queue()\n        self.thread = threading.Thread(target=self._run, daemon=True)\n\n"
            '    def _run(self):\n        """Run jobs until None."""\n        while True:\n            sleep(0.05)\n'
            "            job = self.jobs.get()\n            if job is None:\n                return\n            job()\n"
        ],
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_operator_recognizes_the_shape(shape):
    operator, source, expected = SHAPES[shape]
    assert mutated(source, operator) == expected
