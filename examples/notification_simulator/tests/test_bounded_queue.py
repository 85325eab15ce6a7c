"""FAIL_TO_PASS: deliveries wait in a bounded queue; a full queue holds the producer back."""

from __future__ import annotations

import threading

import pytest
from notifsim.simulator import Simulator

WAIT = 5.0


class Gate:
    """A latency stand-in that holds every delivery until opened, counting how many it holds."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self._changed = threading.Condition()
        self.holding = 0

    def __call__(self, seconds: float) -> None:
        with self._changed:
            self.holding += 1
            self._changed.notify_all()
        assert self.open.wait(WAIT), "gate never opened"

    def wait_holding(self, count: int) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.holding == count, WAIT)


def wait_for(condition, timeout: float = WAIT) -> bool:
    """Poll `condition` every millisecond; True as soon as it holds."""
    never = threading.Event()
    for _ in range(int(timeout * 1000)):
        if condition():
            return True
        never.wait(0.001)
    return condition()


def test_full_queue_holds_the_producer_back():
    gate = Gate()
    simulator = Simulator(sleep=gate, workers=2, queue_size=4)
    simulator.create_users(10)
    message = simulator.create_message("subject", "body")
    producer = threading.Thread(target=simulator.send, args=(message,))
    producer.start()
    try:
        # 2 deliveries held by the workers + 4 waiting in the queue; the other 4 must wait in send().
        assert gate.wait_holding(2)
        assert wait_for(lambda: simulator.pool.pending() >= 4)
        assert simulator.pool.pending() == 4
        assert producer.is_alive()
    finally:
        gate.open.set()
        producer.join(WAIT)
    assert not producer.is_alive()
    assert simulator.statistics().deliveries == 10
    assert simulator.pool.high_water == 4
    simulator.close()


def test_queue_never_grows_beyond_its_bound_in_a_long_run():
    with Simulator(sleep=lambda s: None, workers=2, queue_size=5) as simulator:
        simulator.create_users(300)
        for n in range(3):
            simulator.send(simulator.create_message(f"subject {n}", "body"))
        assert simulator.statistics().deliveries == 900
        assert 1 <= simulator.pool.high_water <= 5
        assert simulator.pool.pending() == 0


def test_pool_size_and_queue_bound_are_configurable():
    with Simulator(workers=3, queue_size=7) as simulator:
        assert (simulator.pool.workers, simulator.pool.maxsize) == (3, 7)


@pytest.mark.parametrize("options", [{"workers": 0}, {"queue_size": 0}])
def test_pool_and_queue_need_room_for_at_least_one(options):
    with pytest.raises(ValueError):
        Simulator(**options)
