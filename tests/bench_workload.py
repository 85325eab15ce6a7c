"""The reference task's benchmark workload: its arguments and shorter simulated I/O ([[workloads]] in the manifest)."""

import time

import notify_service


def user_ids(users):
    """notify_users(user_ids, payload) over `users` users."""
    return {"args": [list(range(users)), "benchmark"]}


def short_io(send_seconds, lookup_seconds):
    """Replace the simulated network send and user lookup with shorter ones of the same contract.

    The reference workload keeps the real latencies; a workload may shorten them to time more users.
    The functions are replaced (not their latency constants), so an implementation that drops or
    renames the constants is timed on the same I/O as the others.
    """

    def send_notification(user_id, payload):
        if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 0:
            raise ValueError(f"invalid user id: {user_id!r}")
        time.sleep(send_seconds)
        return f"notified user {user_id}: {payload}"

    def lookup_user(user_id):
        time.sleep(lookup_seconds)
        return {"id": user_id}

    notify_service.send_notification = send_notification
    notify_service.lookup_user = lookup_user
