"""Deliberately broken copies of the example tasks' after implementations (CI expects them rejected).

Each entry replaces `old` (which occurs exactly once in `file`, relative to the task folder) with `new` in a
copy of the task. The result breaks one requirement: the FAIL_TO_PASS file named by `breaks` fails on the
broken after, while the PASS_TO_PASS suite and the other FAIL_TO_PASS files still pass. A test of another file
that checks the same requirement from another side may fail with it: `also` names such files.
"""

MUTATIONS = {
    "notification_service": {
        # The limiter asks the bucket but ignores its answer: every send is allowed.
        "file": "repository_after/notif/rate_limit.py",
        "old": "            return bucket.try_take(now)\n",
        "new": "            bucket.try_take(now)\n            return True\n",
        "breaks": "tests/test_rate_limit.py",
        # Two first sends of a user at once share one bucket: with every send allowed, both get through.
        "also": ("tests/test_locks_and_faults.py",),
    },
    "notification_simulator": {
        # The pool forgets to pass its bound to the queue: the queue grows without limit.
        "file": "repository_after/notifsim/dispatch.py",
        "old": "queue.Queue(maxsize)",
        "new": "queue.Queue()",
        "breaks": "tests/test_bounded_queue.py",
    },
    "process_pool": {
        # The pool is sized from the input instead of the cores: one worker per item, no bound, no reuse.
        "file": "repository_after/parallelizing.py",
        "old": "Pool(processes=cpu_count())",
        "new": "Pool(processes=max(1, len(items)))",
        "breaks": "tests/test_pool_bounds.py",
    },
}
