"""Class 9 and the legitimate designs: unusual but correct refactors that every grade must accept.

Each keeps the reference task's contract (at most 50 sends at once in the process from its first calls on,
input read lazily, results in order, a fatal error cancelling what had not begun, nothing started at import,
working after os.fork) with a structure of its own.
"""

from __future__ import annotations

from redteam_support import REFERENCE, Case, candidate

HEADER = '''"""Notification service: {what}."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

MAX_WORKERS = 50
SEND_LATENCY = 0.020
LOOKUP_LATENCY = 0.002


def send_notification(user_id: Any, payload: Any) -> str:
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 0:
        raise ValueError(f"invalid user id: {{user_id!r}}")
    time.sleep(SEND_LATENCY)
    return f"notified user {{user_id}}: {{payload}}"


def lookup_user(user_id: Any) -> dict[str, Any]:
    time.sleep(LOOKUP_LATENCY)
    return {{"id": user_id}}


def _notify_one(user_id: Any, payload: Any) -> Any:
    lookup_user(user_id)
    try:
        return send_notification(user_id, payload)
    except Exception as exc:
        return str(exc)
'''

# The reference's own pool replaced by one whose non-daemon workers retire after a few idle seconds: after the
# last test the process waits for them (timed waits) before it exits.
IDLE_POOL = REFERENCE.replace(
    """def _forget_pool_in_child() -> None:""",
    '''IDLE_SECONDS = 5.0


class IdlePool:
    """At most `size` non-daemon workers, started on demand; each leaves after `idle` seconds without work."""

    def __init__(self, size: int, idle: float) -> None:
        import queue

        self._jobs: Any = queue.SimpleQueue()
        self._size, self._idle = size, idle
        self._lock = threading.Lock()
        self._workers = self._waiting = self._queued = 0

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            self._jobs.put((future, fn, args))
            self._queued += 1
            if self._queued > self._waiting and self._workers < self._size:
                self._workers += 1
                threading.Thread(target=self._work, name="idle-pool").start()
        return future

    def _work(self) -> None:
        import queue

        while True:
            with self._lock:
                self._waiting += 1
            try:
                future, fn, args = self._jobs.get(timeout=self._idle)
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
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the caller through the future, fatal ones included
                future.set_exception(exc)


def _forget_pool_in_child() -> None:''',
).replace(
    '            _executor = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="notify")',
    "            _executor = IdlePool(MAX_WORKERS, IDLE_SECONDS)  # type: ignore[assignment]",
)

LINGERING_REPORTER = (
    REFERENCE
    + """

# A non-daemon reporter thread that leaves on its own a few seconds after the last call.
_last_call = [time.monotonic()]
_reporter: list[threading.Thread] = []
_reporter_lock = threading.Lock()


def _report_until_idle() -> None:
    while time.monotonic() - _last_call[0] < 4.0:
        time.sleep(0.25)


def _start_reporter() -> None:
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
    HEADER.format(what="a thread per send, started only when one of 50 process-wide slots is free")
    + """
_slots = threading.BoundedSemaphore(MAX_WORKERS)


def _new_slots_in_child() -> None:
    global _slots
    _slots = threading.BoundedSemaphore(MAX_WORKERS)  # the parent's holders do not exist after os.fork


os.register_at_fork(after_in_child=_new_slots_in_child)


def notify_users(user_ids, payload):
    results: list[Any] = []
    state = threading.Condition()
    running = [0]
    fatal: list[BaseException] = []
    slots = _slots

    def work(index: int, user_id: Any) -> None:
        try:
            results[index] = _notify_one(user_id, payload)
        except BaseException as exc:  # handed to the caller, fatal ones included
            with state:
                fatal.append(exc)
        finally:
            slots.release()
            with state:
                running[0] -= 1
                state.notify_all()

    try:
        for index, user_id in enumerate(user_ids):
            slots.acquire()
            with state:
                if fatal:
                    slots.release()
                    break
                running[0] += 1
                results.append(None)
            try:
                threading.Thread(target=work, args=(index, user_id), daemon=True).start()
            except BaseException:
                slots.release()
                with state:
                    running[0] -= 1
                raise
    finally:
        with state:
            state.wait_for(lambda: running[0] == 0)
    if fatal:
        raise fatal[0]
    return results
"""
)

PER_CALL_SEMAPHORE = (
    HEADER.format(what="a pool and a window per call, and one semaphore bounding sends process-wide")
    + '''
from concurrent.futures import ThreadPoolExecutor

_sends = threading.BoundedSemaphore(MAX_WORKERS)


def _new_semaphore_in_child() -> None:
    global _sends
    _sends = threading.BoundedSemaphore(MAX_WORKERS)


os.register_at_fork(after_in_child=_new_semaphore_in_child)


class _Call:
    """One call's state: its window of users in flight, their futures, its results and its fatal error."""

    def __init__(self) -> None:
        self.state = threading.Condition()
        self.window = threading.BoundedSemaphore(MAX_WORKERS)  # this call's users in flight
        self.live: set[Any] = set()
        self.results: list[Any] = []
        self.fatal: list[BaseException] = []
        self.cancelled = False

    def run(self, user_id: Any, payload: Any) -> Any:
        with _sends:
            if self.cancelled:  # this call raised while the user waited for a send slot: it never begins
                return None
            return _notify_one(user_id, payload)

    def finished(self, index: int, future: Any) -> None:
        with self.state:
            self.live.discard(future)
            if not future.cancelled():
                error = future.exception()
                if error is not None:
                    self.fatal.append(error)  # before the window opens: the feeding loop takes no more users
                else:
                    self.results[index] = future.result()
            self.state.notify_all()
        self.window.release()

    def feed(self, pool: ThreadPoolExecutor, user_ids: Any, payload: Any) -> list[Any]:
        for index, user_id in enumerate(user_ids):
            self.window.acquire()
            if self.fatal:
                self.window.release()
                break
            self.results.append(None)
            future = pool.submit(self.run, user_id, payload)
            with self.state:
                self.live.add(future)
            future.add_done_callback(lambda done, index=index: self.finished(index, done))
        with self.state:
            self.state.wait_for(lambda: self.fatal or not self.live)
        if self.fatal:
            raise self.fatal[0]
        return self.results

    def stop(self, pool: ThreadPoolExecutor) -> None:
        """Nothing more of this call begins; sends already running finish alone. Its workers still waiting for a
        send slot (held by other callers) find the call cancelled and leave on their own."""
        with self.state:
            self.cancelled = True
            for future in list(self.live):
                future.cancel()
        pool.shutdown(wait=False, cancel_futures=True)


def notify_users(user_ids, payload):
    call = _Call()
    pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="call")
    try:
        results = call.feed(pool, user_ids, payload)
    except BaseException:  # a fatal error of a send, or Ctrl-C in the caller's thread
        call.stop(pool)
        raise
    pool.shutdown(wait=True)  # every send of the call is done: its workers are idle
    return results
'''
)

ASYNCIO_TO_THREAD = (
    HEADER.format(what="one asyncio loop in a thread; sends go through asyncio.to_thread, 50 at once")
    + '''
import asyncio
from concurrent.futures import ThreadPoolExecutor

_loop: Any = None
_sends: Any = None
_loop_lock = threading.Lock()


def _forget_loop_in_child() -> None:
    global _loop, _sends, _loop_lock
    _loop, _sends, _loop_lock = None, None, threading.Lock()  # its thread does not exist after os.fork


os.register_at_fork(after_in_child=_forget_loop_in_child)


def _event_loop() -> Any:
    global _loop, _sends
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            loop.set_default_executor(ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="to-thread"))
            threading.Thread(target=loop.run_forever, name="notify-loop", daemon=True).start()
            _sends = asyncio.run_coroutine_threadsafe(_make_semaphore(), loop).result()
            _loop = loop
        return _loop


async def _make_semaphore() -> Any:
    return asyncio.Semaphore(MAX_WORKERS)


def _shielded_one(user_id: Any, payload: Any) -> tuple[bool, Any]:
    """Runs on a worker thread: a fatal error comes back as a value, so that it cannot stop the loop."""
    try:
        return False, _notify_one(user_id, payload)
    except BaseException as exc:
        return True, exc


async def _notify_all(user_ids: Any, payload: Any) -> tuple[list[Any], list[BaseException]]:
    results: list[Any] = []
    window = asyncio.Semaphore(MAX_WORKERS)  # this call's users in flight
    fatal: list[BaseException] = []
    tasks: set[Any] = set()
    sends = _sends

    async def one(index: int, user_id: Any) -> None:
        try:
            async with sends:
                if fatal:
                    return
                is_fatal, value = await asyncio.to_thread(_shielded_one, user_id, payload)
            if is_fatal:
                fatal.append(value)
                for task in tasks:  # what waits for a slot is cancelled: it had not begun
                    task.cancel()
            else:
                results[index] = value
        finally:
            window.release()

    users = iter(enumerate(user_ids))
    while not fatal:
        await window.acquire()
        if fatal:
            window.release()
            break
        item = next(users, None)
        if item is None:
            window.release()
            break
        index, user_id = item
        results.append(None)
        task = asyncio.get_running_loop().create_task(one(index, user_id))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(set(tasks))
    return results, fatal


def notify_users(user_ids, payload):
    results, fatal = asyncio.run_coroutine_threadsafe(_notify_all(user_ids, payload), _event_loop()).result()
    if fatal:
        raise fatal[0]
    return results
'''
)

# The reference, with the blocking part of each user's lookup done in a small process pool (started with spawn):
# worker processes that exist until the interpreter ends, and are shut down by it, not left behind. A process
# that leaves by os._exit (a forked child does) shuts no pool down, so each worker also leaves once the process
# that started it is gone (its code in a module of its own, so that spawn children can import it by name).
PROCESS_POOL_LOOKUPS = REFERENCE.replace(
    '''def lookup_user(user_id: Any) -> dict[str, Any]:
    """Fetch the user's record before sending (simulated: a short blocking read)."""
    time.sleep(LOOKUP_LATENCY)
    return {"id": user_id}''',
    '''_lookups: Any = None
_lookups_lock = threading.Lock()


def _lookup_pool() -> Any:
    global _lookups
    with _lookups_lock:
        if _lookups is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            import lookup_worker

            _lookups = ProcessPoolExecutor(
                max_workers=2,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=lookup_worker.leave_with_parent,
                initargs=(os.getpid(),),
            )
        return _lookups


def lookup_user(user_id: Any) -> dict[str, Any]:
    """Fetch the user's record before sending: the blocking read runs in a process of a small pool."""
    _lookup_pool().submit(time.sleep, LOOKUP_LATENCY).result()
    return {"id": user_id}''',
).replace(
    """    global _executor, _executor_lock
    _executor = None""",
    """    global _executor, _executor_lock, _lookups, _lookups_lock
    _executor, _lookups, _lookups_lock = None, None, threading.Lock()""",
)

LOOKUP_WORKER = '''
"""What runs in each lookup process besides the reads: it leaves when the process that started it is gone."""

import os
import threading
import time


def leave_with_parent(parent: int) -> None:
    """`parent` is named by the process that made the pool: it may be gone before this worker has started."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
'''

CASES = [
    Case("idle-exit-pool", 9, candidate(IDLE_POOL), "accepted", today="rejected: hung ~3 s after the session ended"),
    Case("lingering-reporter", 9, candidate(LINGERING_REPORTER), "accepted", today="rejected: hung after the session"),
    Case("lazy-threads", 0, candidate(LAZY_THREADS), "accepted"),
    Case("per-call-semaphore", 0, candidate(PER_CALL_SEMAPHORE), "accepted"),
    Case("asyncio-to-thread", 0, candidate(ASYNCIO_TO_THREAD), "accepted"),
    Case("process-pool-lookups", 0, candidate(PROCESS_POOL_LOOKUPS, **{"lookup_worker.py": LOOKUP_WORKER}), "accepted"),
]
