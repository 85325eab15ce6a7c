"""Time measure_sources + find_issues on a ~100-line module and lint_task on a small task folder."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "evaluation"), str(HERE.parent / "evaluation" / "tests")]

from taskfactory import make_task  # noqa: E402

from concgrade.static.lint.checks import lint_task  # noqa: E402
from concgrade.static.metrics import measure_sources  # noqa: E402
from concgrade.static.pysource import _parse_cached  # noqa: E402
from concgrade.static.rules import find_issues  # noqa: E402

MODULE = '''"""Bounded notification fan-out."""
import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

log = logging.getLogger(__name__)
MAX_WORKERS = 50
RETRIES = 3
_executor = None
_executor_lock = threading.Lock()


class DeliveryError(Exception):
    """A notification could not be delivered after every retry."""


class RateLimiter:
    def __init__(self, per_second):
        self._interval = 1.0 / per_second
        self._lock = threading.Lock()
        self._next = 0.0

    def acquire(self):
        with self._lock:
            now = time.monotonic()
            wait_for = max(0.0, self._next - now)
            self._next = max(now, self._next) + self._interval
        if wait_for:
            time.sleep(wait_for)


def _get_executor():
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=MAX_WORKERS)
        return _executor


def _send(user_id, payload):
    if not payload:
        raise DeliveryError(f"empty payload for {user_id}")
    return {"user": user_id, "ok": True}


def _notify_one(user_id, payload, limiter=None):
    last = None
    for attempt in range(RETRIES):
        if limiter is not None:
            limiter.acquire()
        try:
            return _send(user_id, payload)
        except DeliveryError as exc:
            last = exc
            log.warning("attempt %d for %s failed: %s", attempt, user_id, exc)
    raise DeliveryError(str(last))


def notify_users(user_ids, payload, limiter=None):
    user_ids = list(user_ids)
    results = [None] * len(user_ids)
    pending = {}
    ex = _get_executor()
    try:
        for i, uid in enumerate(user_ids):
            pending[ex.submit(_notify_one, uid, payload, limiter)] = i
            if len(pending) >= MAX_WORKERS:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    results[pending.pop(f)] = f.result()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                results[pending.pop(f)] = f.result()
    except BaseException:
        for f in pending:
            f.cancel()
        raise
    return results


def summarize(results):
    ok = sum(1 for r in results if r and r.get("ok"))
    failed = len(results) - ok
    if failed and ok:
        status = "partial"
    elif failed:
        status = "failed"
    else:
        status = "ok"
    return {"ok": ok, "failed": failed, "status": status}


def notify_and_summarize(user_ids, payload):
    try:
        return summarize(notify_users(user_ids, payload))
    except DeliveryError as exc:
        log.error("delivery failed: %s", exc)
        return {"ok": 0, "failed": len(list(user_ids)), "status": "failed"}
'''


def clear() -> None:
    _parse_cached.cache_clear()


def timed(fn, repeats: int) -> tuple[float, float]:
    fn()  # warm-up: imports, lizard's first-use setup
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples) - min(samples)


def main() -> None:
    sources = {"notify_service.py": MODULE}
    lines = len(MODULE.splitlines())
    # Cold: the parse cache cleared first, as for a file seen once. "both" is the usual use: the second
    # call reuses the first one's parse.
    for name, fn in (
        ("measure_sources", lambda: (clear(), measure_sources(sources))),
        ("find_issues", lambda: (clear(), find_issues(sources))),
        ("both", lambda: (clear(), measure_sources(sources), find_issues(sources))),
    ):
        median, spread = timed(fn, 200)
        print(f"{name:<16} {lines}-line module, cold: median {median:.2f} ms (spread {spread:.2f} ms, 200 runs)")
    with tempfile.TemporaryDirectory() as tmp:
        root = make_task(Path(tmp) / "task")
        files = sum(1 for p in root.rglob("*") if p.is_file())
        median, spread = timed(lambda: (clear(), lint_task(root)), 50)
        print(f"lint_task        {files}-file task: median {median:.2f} ms (spread {spread:.2f} ms, 50 runs)")


if __name__ == "__main__":
    main()
