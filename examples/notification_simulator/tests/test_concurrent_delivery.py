"""FAIL_TO_PASS: deliveries run on a pool of worker threads, several at once but never more than the pool.

The simulated latency is a sleep function the tests replace with barriers and gates, so concurrency is
proved by what can happen at the same time, not by how long anything takes.
"""

from __future__ import annotations

import threading

import pytest
from notifsim.simulator import Simulator

WAIT = 5.0  # generous: only a broken implementation ever waits this long


class InFlight:
    """A latency stand-in that counts the deliveries inside it and optionally holds them at a barrier."""

    def __init__(self, barrier_parties: int | None = None) -> None:
        self.barrier = threading.Barrier(barrier_parties, timeout=WAIT) if barrier_parties else None
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.threads: set[str] = set()
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.threads.add(threading.current_thread().name)
            self.waits.append(seconds)
        try:
            if self.barrier is not None:
                self.barrier.wait()
        finally:
            with self._lock:
                self.now -= 1


def campaign(simulator: Simulator, users: int, messages: int = 1) -> None:
    simulator.create_users(users)
    for n in range(messages):
        simulator.send(simulator.create_message(f"subject {n}", "body"))


def test_deliveries_run_off_the_callers_thread():
    latency = InFlight()
    with Simulator(sleep=latency) as simulator:
        campaign(simulator, 20)
        assert simulator.statistics().deliveries == 20
    assert latency.threads
    assert threading.current_thread().name not in latency.threads


@pytest.mark.parametrize("workers", [2, 4])
def test_several_deliveries_wait_out_their_latency_together(workers):
    # Each delivery waits at a barrier for `workers` parties: one delivery at a time could never pass it,
    # so K deliveries of latency L take about K / workers * L instead of K * L.
    latency = InFlight(barrier_parties=workers)
    with Simulator(latency=0.5, sleep=latency, workers=workers) as simulator:
        campaign(simulator, users=workers * 3)
        stats = simulator.statistics()
    assert stats.deliveries == workers * 3
    assert latency.most == workers
    assert latency.waits == [0.5] * (workers * 3)


def test_never_more_deliveries_at_once_than_workers():
    latency = InFlight(barrier_parties=3)
    with Simulator(sleep=latency, workers=3, queue_size=50) as simulator:
        campaign(simulator, users=12, messages=2)
        assert simulator.statistics().deliveries == 24
    assert latency.most == 3
    assert len(latency.threads) <= 3


def test_statistics_count_every_delivery_across_threads():
    with Simulator(sleep=lambda s: None, workers=8, seed=9) as simulator:
        campaign(simulator, users=400, messages=3)
        stats = simulator.statistics()
        assert len(simulator.store.deliveries()) == 1200
    assert stats.deliveries == 1200
    assert stats.lost + stats.delivered == 1200
    assert all(s.sent == 400 for s in stats.per_message.values())


def test_a_failing_delivery_is_reported_and_the_rest_still_run():
    calls: list[float] = []
    lock = threading.Lock()

    def flaky_network(seconds: float) -> None:
        with lock:
            calls.append(seconds)
            first = len(calls) == 1
        if first:
            raise ConnectionError("network down")

    simulator = Simulator(sleep=flaky_network, workers=2)
    campaign(simulator, users=10)
    with pytest.raises(Exception, match="network down"):
        simulator.wait()
    assert simulator.statistics().deliveries == 9
    simulator.close()


def test_close_stops_the_workers_and_refuses_more_work():
    threads_before = set(threading.enumerate())
    simulator = Simulator(sleep=lambda s: None, workers=3)
    campaign(simulator, users=5)
    simulator.close()
    simulator.close()
    assert simulator.statistics().deliveries == 5
    assert [t for t in threading.enumerate() if t not in threads_before] == []
    with pytest.raises(RuntimeError):
        simulator.send(simulator.create_message("late", "body"))
