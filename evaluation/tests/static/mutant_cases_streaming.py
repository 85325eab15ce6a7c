"""Cases of the streaming operators (CM4xx)."""

from __future__ import annotations

from mutant_cases import Case

# A window of two jobs over a batch read into a list.
WINDOWED_LIST = """\
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

WINDOW = 2
POOL = ThreadPoolExecutor(max_workers=WINDOW)


def run_all(jobs):
    jobs = list(jobs)
    results = [None] * len(jobs)
    pending = {}
    for index, job in enumerate(jobs):
        if len(pending) >= WINDOW:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                results[pending.pop(future)] = future.result()
        pending[POOL.submit(job)] = index
    for future, index in pending.items():
        results[index] = future.result()
    return results
"""

# The same window over a lazy input, taken one item at a time.
WINDOWED_STREAM = """\
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

WINDOW = 2
POOL = ThreadPoolExecutor(max_workers=WINDOW)


def run_all(jobs):
    results = {}
    pending = {}
    for index, job in enumerate(jobs):
        if len(pending) >= WINDOW:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                results[pending.pop(future)] = future.result()
        pending[POOL.submit(job)] = index
    for future, index in pending.items():
        results[index] = future.result()
    return [results[index] for index in sorted(results)]
"""

QUEUE_HELPERS = '''

def _concgrade_queued(workers, fn, /, *args, **kwargs):
    """Mutant: the work waits in an unbounded queue drained by `workers` threads, outside any executor."""
    import concurrent.futures
    import queue
    import threading
    state = globals().setdefault('_concgrade_backlog', {'lock': threading.Lock()})
    with state['lock']:
        if 'queue' not in state:
            state['queue'] = queue.Queue()
            for _ in range(workers):
                threading.Thread(target=_concgrade_drain, args=(state['queue'],), daemon=True).start()
    future = concurrent.futures.Future()
    state['queue'].put((future, fn, args, kwargs))
    return future


def _concgrade_drain(backlog):
    """Mutant: run queued work, one item at a time, for as long as the process lives."""
    while True:
        future, fn, args, kwargs = backlog.get()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)
'''

CM402_EXPECTED = (
    WINDOWED_STREAM.replace("wait\n", "wait\n" + QUEUE_HELPERS, 1)
    .replace("if len(pending) >= WINDOW:", "if len(pending) >= __import__('sys', fromlist=['maxsize']).maxsize:")
    .replace("pending[POOL.submit(job)] = index", "pending[_concgrade_queued(WINDOW, job)] = index")
)

HELD_JOBS = """\
import threading

DEADLINE = 5.0
SETTLE = 1.0


class Held:
    \"\"\"Jobs that stay running until released; counts what was taken from the input and what started.\"\"\"

    def __init__(self):
        self.cond = threading.Condition()
        self.taken = 0
        self.started = 0
        self.open = False

    def jobs(self, count):
        for number in range(count):
            with self.cond:
                self.taken += 1
                self.cond.notify_all()
            yield self.job(number)

    def job(self, number):
        def run():
            with self.cond:
                self.started += 1
                self.cond.notify_all()
                self.cond.wait_for(lambda: self.open, DEADLINE)
            return number

        return run

    def reaches(self, predicate, seconds):
        with self.cond:
            return self.cond.wait_for(predicate, seconds)

    def release(self):
        with self.cond:
            self.open = True
            self.cond.notify_all()


def call_in_thread(function, *args):
    results = []
    caller = threading.Thread(target=lambda: results.append(function(*args)), daemon=True)
    caller.start()
    return caller, results
"""

# A census of executor submissions: at most one window of futures pending at once.
SUBMIT_CENSUS = (
    HELD_JOBS
    + """
import MODULE


def test_at_most_a_window_of_jobs_is_submitted(monkeypatch):
    held = Held()
    submitted = []
    real_submit = MODULE.POOL.submit

    def counting_submit(*args, **kwargs):
        with held.cond:
            submitted.append(args)
            held.cond.notify_all()
        return real_submit(*args, **kwargs)

    monkeypatch.setattr(MODULE.POOL, "submit", counting_submit)
    caller, results = call_in_thread(MODULE.run_all, list(held.jobs(20)))
    try:
        assert held.reaches(lambda: held.started == 2, DEADLINE)
        assert not held.reaches(lambda: len(submitted) > 2, SETTLE), f"{len(submitted)} jobs submitted at once"
    finally:
        held.release()
        caller.join(DEADLINE)
    assert results == [list(range(20))]
"""
)

# How far the input is taken ahead of the work, whatever holds the backlog.
INPUT_RUN_AHEAD = (
    HELD_JOBS
    + """
import MODULE


def test_the_input_is_taken_as_the_work_goes():
    held = Held()
    caller, results = call_in_thread(MODULE.run_all, held.jobs(20))
    try:
        assert held.reaches(lambda: held.started == 2, DEADLINE)
        # Two running and the third waiting for a slot: nothing more may have been taken.
        assert not held.reaches(lambda: held.taken > 3, SETTLE), f"{held.taken} jobs taken while two ran"
    finally:
        held.release()
        caller.join(DEADLINE)
    assert results == [list(range(20))]
"""
)

ORDERED_RESULTS = """\
import MODULE


def test_results_come_back_in_input_order():
    assert MODULE.run_all(iter([lambda: 1, lambda: 2, lambda: 3])) == [1, 2, 3]
"""

QUEUED = """\
import queue
import threading


class Pipeline:
    def __init__(self, handle, maxsize=2):
        self._queue = queue.Queue(maxsize)
        self._handle = handle
        threading.Thread(target=self._run, daemon=True).start()

    def put(self, item):
        self._queue.put(item)

    def _run(self):
        while True:
            item = self._queue.get()
            self._handle(item)
            self._queue.task_done()

    def drain(self):
        self._queue.join()
"""

PRODUCER_WAITS = """\
import threading

import cm403_pipeline


def test_a_fast_producer_waits_for_room():
    release = threading.Event()
    handling = threading.Event()
    put = []

    def handle(item):
        handling.set()
        release.wait(5.0)

    pipeline = cm403_pipeline.Pipeline(handle, maxsize=2)

    def produce():
        for item in range(10):
            pipeline.put(item)
            put.append(item)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        assert handling.wait(5.0)
        producer.join(1.0)
        # One item in the handler and two in the queue: the producer waits to put the fourth.
        assert len(put) <= 3, f"{len(put)} items put while one was being handled"
    finally:
        release.set()
        producer.join(5.0)
"""

EVERY_ITEM_HANDLED = """\
import cm403_pipeline


def test_every_item_is_handled():
    handled = []
    pipeline = cm403_pipeline.Pipeline(handled.append, maxsize=2)
    for item in range(5):
        pipeline.put(item)
    pipeline.drain()
    assert handled == [0, 1, 2, 3, 4]
"""

FIRST_OF = """\
import itertools
from concurrent.futures import ThreadPoolExecutor

POOL = ThreadPoolExecutor(max_workers=2)


def first_results(jobs, count):
    futures = (POOL.submit(job) for job in jobs)
    return [future.result() for future in itertools.islice(futures, count)]
"""

ONLY_WHAT_IS_ASKED = """\
import cm404_first


def test_only_the_jobs_asked_for_are_submitted(monkeypatch):
    submitted = []
    real_submit = cm404_first.POOL.submit
    monkeypatch.setattr(cm404_first.POOL, "submit", lambda job: submitted.append(job) or real_submit(job))
    jobs = [lambda number=number: number for number in range(5)]
    assert cm404_first.first_results(jobs, 2) == [0, 1]
    assert len(submitted) == 2
"""

FIRST_RESULTS = """\
import cm404_first


def test_the_first_results_come_back():
    jobs = [lambda number=number: number for number in range(5)]
    assert cm404_first.first_results(jobs, 2) == [0, 1]
"""

CASES = [
    Case(
        "CM401-submit-all-up-front",
        "cm401_window",
        WINDOWED_LIST,
        WINDOWED_LIST.replace("if len(pending) >= WINDOW:", "if len(pending) >= len(jobs):"),
        WINDOWED_LIST.replace("POOL.submit(job)", "job()"),
        SUBMIT_CENSUS.replace("MODULE", "cm401_window"),
        ORDERED_RESULTS.replace("MODULE", "cm401_window"),
    ),
    Case(
        "CM402-backlog-in-queue",
        "cm402_stream",
        WINDOWED_STREAM,
        CM402_EXPECTED,
        WINDOWED_STREAM.replace("POOL.submit(job)", "job()"),
        INPUT_RUN_AHEAD.replace("MODULE", "cm402_stream"),
        # The backlog waits outside the executor: a census of its submissions sees nothing wrong.
        SUBMIT_CENSUS.replace("MODULE", "cm402_stream"),
    ),
    Case(
        "CM403-unbounded-queue",
        "cm403_pipeline",
        QUEUED,
        QUEUED.replace("queue.Queue(maxsize)", "queue.Queue()"),
        QUEUED.replace("queue.Queue(maxsize)", "queue.Queue()"),
        PRODUCER_WAITS,
        EVERY_ITEM_HANDLED,
    ),
    Case(
        "CM404-eager-submissions",
        "cm404_first",
        FIRST_OF,
        FIRST_OF.replace(
            "futures = (POOL.submit(job) for job in jobs)", "futures = [POOL.submit(job) for job in jobs]"
        ),
        FIRST_OF.replace(
            "futures = (POOL.submit(job) for job in jobs)", "futures = [POOL.submit(job) for job in jobs]"
        ),
        ONLY_WHAT_IS_ASKED,
        FIRST_RESULTS,
    ),
    Case(
        "CM405-materialize-input",
        "cm405_stream",
        WINDOWED_STREAM,
        WINDOWED_STREAM.replace("def run_all(jobs):\n", "def run_all(jobs):\n    jobs = list(jobs)\n"),
        WINDOWED_LIST,
        INPUT_RUN_AHEAD.replace("MODULE", "cm405_stream"),
        ORDERED_RESULTS.replace("MODULE", "cm405_stream"),
    ),
]
