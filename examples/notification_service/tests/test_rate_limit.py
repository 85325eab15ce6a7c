"""FAIL_TO_PASS, requirement 3: a token bucket per (user_id, channel), 5 sends per 60 s, on a fake clock."""

from __future__ import annotations

import threading

from notif import rate_limit, service
from notif.models import Event

WAIT = 5.0


def event(n: int, user: str = "alice", channel: str = "email") -> Event:
    return Event(f"{user}-{channel}-{n}", user, channel, f"{user}@example.com", f"body {n}")


def test_sixth_send_within_a_minute_is_refused(outbox, clock):
    svc = service.NotificationService(outbox, clock=clock)
    for n in range(6):
        svc.enqueue(event(n))
    results = svc.process_all()
    assert [r.ok for r in results] == [True] * 5 + [False]
    assert (results[5].ok, results[5].reason) == (False, "rate_limited")
    assert len(outbox.sent) == 5
    assert "alice-email-5" not in outbox.calls


def test_limit_is_per_user_and_per_channel(outbox, clock):
    svc = service.NotificationService(outbox, clock=clock)
    for n in range(5):
        svc.enqueue(event(n))
    svc.enqueue(event(5, channel="sms"))
    svc.enqueue(event(6, user="bob"))
    svc.enqueue(event(7))
    results = svc.process_all()
    assert [r.reason for r in results] == [None] * 7 + ["rate_limited"]


def test_tokens_come_back_evenly_over_the_period(clock):
    limiter = rate_limit.RateLimiter(capacity=5, period=60.0, clock=clock)
    assert [limiter.allow("alice", "email") for _ in range(6)] == [True] * 5 + [False]
    clock.advance(11.5)
    assert limiter.allow("alice", "email") is False
    clock.advance(0.5)  # 12 s is one fifth of the period: one token
    assert limiter.allow("alice", "email") is True
    assert limiter.allow("alice", "email") is False
    clock.advance(3600)  # a long quiet spell refills to capacity, not beyond
    assert [limiter.allow("alice", "email") for _ in range(6)] == [True] * 5 + [False]


def test_rate_limited_event_is_not_retried_or_slept_on(outbox, clock):
    svc = service.NotificationService(outbox, clock=clock, sleep=clock.sleep)
    for n in range(6):
        svc.enqueue(event(n))
    svc.process_all()
    assert clock.sleeps == []
    assert outbox.calls.count("alice-email-5") == 0


def test_service_limit_refills_on_the_injected_clock(outbox, clock):
    svc = service.NotificationService(outbox, clock=clock)
    for n in range(6):
        svc.enqueue(event(n))
    svc.process_all()
    clock.advance(60)
    for n in range(6, 12):
        svc.enqueue(event(n))
    reasons = [r.reason for r in svc.process_all()]
    assert reasons == [None] * 5 + ["rate_limited"]


def test_limiter_is_exact_under_concurrent_callers(clock):
    limiter = rate_limit.RateLimiter(capacity=5, period=60.0, clock=clock)
    callers = 10
    go = threading.Barrier(callers, timeout=WAIT)
    allowed: list[bool] = []
    lock = threading.Lock()

    def call() -> None:
        go.wait()
        for _ in range(3):
            ok = limiter.allow("alice", "sms")
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert len(allowed) == 30
    assert allowed.count(True) == 5


def test_workers_share_one_limit(outbox, clock):
    svc = service.NotificationService(outbox, workers=4, clock=clock)
    with svc:
        for n in range(9):
            svc.enqueue(event(n))
    reasons = sorted(r.reason or "sent" for r in svc.results)
    assert reasons == ["rate_limited"] * 4 + ["sent"] * 5
