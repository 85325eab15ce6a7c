"""Notification service, original version: notifies one user after another."""

import time

# Simulated I/O: each send blocks like a network call, each lookup like a quick database read.
SEND_LATENCY = 0.020
LOOKUP_LATENCY = 0.002


def send_notification(user_id, payload):
    """Send `payload` to one user and return the delivery receipt; blocks for about 20 ms.

    Raises ValueError for an id that cannot be a user (not a non-negative integer).
    """
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id < 0:
        raise ValueError(f"invalid user id: {user_id!r}")
    time.sleep(SEND_LATENCY)
    return f"notified user {user_id}: {payload}"


def lookup_user(user_id):
    """Fetch the user's record before sending (simulated: a short blocking read)."""
    time.sleep(LOOKUP_LATENCY)
    return {"id": user_id}


def notify_users(user_ids, payload):
    """Notify every user in turn; results[i] is the receipt for user_ids[i], or the error message."""
    results = []
    for user_id in user_ids:
        lookup_user(user_id)
        try:
            results.append(send_notification(user_id, payload))
        except Exception as exc:
            results.append(str(exc))
    return results
