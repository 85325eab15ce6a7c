"""Class 9 and the legitimate designs: unusual but correct refactors that every grade must accept."""

from __future__ import annotations

from redteam_support import REFERENCE, Case, candidate

COMMON = """
import threading
import time

MAX_WORKERS = 50
SEND_LATENCY = 0.020
LOOKUP_LATENCY = 0.002


def send_notification(user_id, payload):
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 0:
        raise ValueError(f"invalid user id: {user_id!r}")
    time.sleep(SEND_LATENCY)
    return f"notified user {user_id}: {payload}"


def lookup_user(user_id):
    time.sleep(LOOKUP_LATENCY)
    return {"id": user_id}


def _notify_one(user_id, payload):
    lookup_user(user_id)
    try:
        return send_notification(user_id, payload)
    except Exception as exc:
        return str(exc)
"""

IDLE_POOL = (
    '''"""Notification service on a home-made pool whose worker threads retire after a few idle seconds."""
'''
    + COMMON
    + '''
import queue

IDLE_SECONDS = 5.0


class _Job:
    def __init__(self, fn, args, on_done, index):
        self.fn, self.args, self.on_done, self.index = fn, args, on_done, index
        self.value = self.error = None

    def run(self):
        try:
            self.value = self.fn(*self.args)
        except BaseException as exc:  # handed to the caller, fatal ones included
            self.error = exc
        self.on_done(self)


class IdlePool:
    """At most `size` non-daemon workers, started on demand; each leaves after `idle` seconds without work."""

    def __init__(self, size, idle):
        self._jobs = queue.Queue()
        self._size, self._idle = size, idle
        self._lock = threading.Lock()
        self._workers = self._waiting = self._queued = 0

    def submit(self, fn, args, on_done, index):
        with self._lock:
            self._jobs.put(_Job(fn, args, on_done, index))
            self._queued += 1
            if self._queued > self._waiting and self._workers < self._size:
                self._workers += 1
                threading.Thread(target=self._work, name="idle-pool").start()

    def _work(self):
        while True:
            with self._lock:
                self._waiting += 1
            try:
                job = self._jobs.get(timeout=self._idle)
            except queue.Empty:
                with self._lock:
                    self._waiting -= 1
                    if self._jobs.empty():
                        self._workers -= 1
                        return
                continue
            with self._lock:
                self._waiting -= 1
                self._queued -= 1
            job.run()


_pool = IdlePool(MAX_WORKERS, IDLE_SECONDS)


def notify_users(user_ids, payload):
    users = list(user_ids)
    results = [None] * len(users)
    state = threading.Condition()
    in_flight = [0]
    fatal = []

    def on_done(job):
        with state:
            if job.error is not None:
                fatal.append(job.error)
            else:
                results[job.index] = job.value
            in_flight[0] -= 1
            state.notify_all()

    try:
        for index, user_id in enumerate(users):
            with state:
                state.wait_for(lambda: in_flight[0] < MAX_WORKERS or fatal)
                if fatal:
                    break
                in_flight[0] += 1
            _pool.submit(_notify_one, (user_id, payload), on_done, index)
    finally:
        with state:
            state.wait_for(lambda: in_flight[0] == 0)
    if fatal:
        raise fatal[0]
    return results
'''
)

LINGERING_REPORTER = (
    REFERENCE
    + """

# A non-daemon reporter thread that leaves on its own a few seconds after the last call.
_last_call = [time.monotonic()]
_reporter = []
_reporter_lock = threading.Lock()


def _report_until_idle():
    while time.monotonic() - _last_call[0] < 4.0:
        time.sleep(0.25)


def _start_reporter():
    with _reporter_lock:
        _last_call[0] = time.monotonic()
        if not _reporter or not _reporter[0].is_alive():
            _reporter[:] = [threading.Thread(target=_report_until_idle, name="reporter")]
            _reporter[0].start()


_bounded_notify_users = notify_users


def notify_users(user_ids, payload):
    _start_reporter()
    return _bounded_notify_users(user_ids, payload)
"""
)

LAZY_THREADS = (
    '''"""Notification service with a thread per send, started lazily, at most 50 in the whole process."""
'''
    + COMMON
    + """
_slots = threading.BoundedSemaphore(MAX_WORKERS)


def notify_users(user_ids, payload):
    users = list(user_ids)
    results = [None] * len(users)
    state = threading.Condition()
    running = [0]
    fatal = []

    def work(index, user_id):
        try:
            results[index] = _notify_one(user_id, payload)
        except BaseException as exc:  # handed to the caller, fatal ones included
            with state:
                fatal.append(exc)
        finally:
            _slots.release()
            with state:
                running[0] -= 1
                state.notify_all()

    try:
        for index, user_id in enumerate(users):
            _slots.acquire()
            with state:
                if fatal:
                    _slots.release()
                    break
                running[0] += 1
            threading.Thread(target=work, args=(index, user_id), daemon=True).start()
    finally:
        with state:
            state.wait_for(lambda: running[0] == 0)
    if fatal:
        raise fatal[0]
    return results
"""
)

PER_CALL_SEMAPHORE = (
    '''"""Notification service: a pool and a window per call, and one semaphore bounding sends process-wide."""
'''
    + COMMON
    + """
from concurrent.futures import ThreadPoolExecutor

_sends = threading.BoundedSemaphore(MAX_WORKERS)


def _bounded_one(user_id, payload):
    with _sends:
        return _notify_one(user_id, payload)


def notify_users(user_ids, payload):
    users = list(user_ids)
    results = [None] * len(users)
    if not users:
        return results
    window = threading.BoundedSemaphore(MAX_WORKERS)  # this call's users in flight
    fatal = []
    futures = []

    def finished(index, future):
        window.release()
        error = future.exception() if not future.cancelled() else None
        if error is not None:
            fatal.append(error)
        elif not future.cancelled():
            results[index] = future.result()

    with ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="call") as pool:
        for index, user_id in enumerate(users):
            window.acquire()
            if fatal:
                window.release()
                break
            future = pool.submit(_bounded_one, user_id, payload)
            future.add_done_callback(lambda done, index=index: finished(index, done))
            futures.append(future)
        if fatal:
            for future in futures:
                future.cancel()
    if fatal:
        raise fatal[0]
    return results
"""
)

ASYNCIO_TO_THREAD = (
    '''"""Notification service on one asyncio loop in a thread: sends go through asyncio.to_thread, 50 at once."""
'''
    + COMMON
    + '''
import asyncio
from concurrent.futures import ThreadPoolExecutor

_loop = None
_sends = None
_loop_lock = threading.Lock()


def _event_loop():
    global _loop, _sends
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            loop.set_default_executor(ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="to-thread"))
            threading.Thread(target=loop.run_forever, name="notify-loop", daemon=True).start()
            _sends = asyncio.run_coroutine_threadsafe(_make_semaphore(), loop).result()
            _loop = loop
        return _loop


async def _make_semaphore():
    return asyncio.Semaphore(MAX_WORKERS)


def _shielded_one(user_id, payload):
    """Runs on a worker thread: a fatal error comes back as a value, so that it cannot stop the loop."""
    try:
        return False, _notify_one(user_id, payload)
    except BaseException as exc:
        return True, exc


async def _notify_all(users, payload):
    results = [None] * len(users)
    window = asyncio.Semaphore(MAX_WORKERS)  # this call's users in flight
    fatal = []
    tasks = set()

    async def one(index, user_id):
        try:
            async with _sends:
                if fatal:
                    return
                is_fatal, value = await asyncio.to_thread(_shielded_one, user_id, payload)
            if is_fatal:
                fatal.append(value)
            else:
                results[index] = value
        finally:
            window.release()

    for index, user_id in enumerate(users):
        await window.acquire()
        if fatal:
            window.release()
            break
        task = asyncio.get_running_loop().create_task(one(index, user_id))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(set(tasks))
    return results, fatal


def notify_users(user_ids, payload):
    users = list(user_ids)
    if not users:
        return []
    results, fatal = asyncio.run_coroutine_threadsafe(_notify_all(users, payload), _event_loop()).result()
    if fatal:
        raise fatal[0]
    return results
'''
)

PROCESS_POOL_LOOKUPS = REFERENCE.replace(
    "def _notify_one(user_id: Any, payload: Any) -> Any:",
    '''_lookups = None


def _lookup_pool():
    """User lookups run in a small process pool (started with forkserver), sends on the threads."""
    global _lookups
    with _executor_lock:
        if _lookups is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            _lookups = ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("forkserver"))
        return _lookups


def _notify_one(user_id: Any, payload: Any) -> Any:''',
).replace("    lookup_user(user_id)\n    try:", "    _lookup_pool().submit(lookup_user, user_id).result()\n    try:")

CASES = [
    Case("idle-exit-pool", 9, candidate(IDLE_POOL), "accepted", today="rejected: hung ~3 s after the session ended"),
    Case("lingering-reporter", 9, candidate(LINGERING_REPORTER), "accepted", today="rejected: hung after the session"),
    Case("lazy-threads", 0, candidate(LAZY_THREADS), "accepted"),
    Case("per-call-semaphore", 0, candidate(PER_CALL_SEMAPHORE), "accepted"),
    Case("asyncio-to-thread", 0, candidate(ASYNCIO_TO_THREAD), "accepted"),
    Case("process-pool-lookups", 0, candidate(PROCESS_POOL_LOOKUPS), "accepted"),
]
