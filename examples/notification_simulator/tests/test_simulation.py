"""PASS_TO_PASS: the simulation's results, which must not change when deliveries run concurrently."""

from __future__ import annotations

import runpy
import threading
from collections import Counter
from pathlib import Path

import pytest
from notifsim.delivery import delivery_outcome
from notifsim.models import DeliveryStatus
from notifsim.simulator import Simulator


def no_sleep(seconds: float) -> None:
    pass


def run(users: int, messages: int, **options) -> Simulator:
    options.setdefault("sleep", no_sleep)
    simulator = Simulator(**options)
    simulator.create_users(users)
    for n in range(1, messages + 1):
        simulator.send(simulator.create_message(f"subject {n}", f"body {n}"))
    return simulator


def test_known_statistics_for_a_fixed_seed():
    # Recorded from the sequential implementation; any implementation must reproduce them exactly.
    with run(1000, 5, seed=2024, loss_ratio=0.1, open_ratio=0.3) as simulator:
        stats = simulator.statistics()
    assert (stats.users, stats.messages, stats.deliveries) == (1000, 5, 5000)
    assert (stats.lost, stats.delivered, stats.opened) == (510, 4490, 1317)
    per_message = {m: (s.sent, s.lost, s.delivered, s.opened) for m, s in stats.per_message.items()}
    assert per_message == {
        1: (1000, 88, 912, 245),
        2: (1000, 116, 884, 272),
        3: (1000, 101, 899, 267),
        4: (1000, 105, 895, 264),
        5: (1000, 100, 900, 269),
    }


def test_each_delivery_follows_its_own_random_stream():
    with run(60, 3, seed=7, loss_ratio=0.2, open_ratio=0.5) as simulator:
        simulator.statistics()
        deliveries = simulator.store.deliveries()
    assert len(deliveries) == 180
    for delivery in deliveries:
        assert delivery.status is delivery_outcome(7, delivery.user_id, delivery.message_id, 0.2, 0.5)


def test_outcome_does_not_depend_on_the_order_of_draws():
    pairs = [(user, message) for user in range(1, 30) for message in range(1, 4)]
    forward = [delivery_outcome(3, u, m, 0.3, 0.4) for u, m in pairs]
    backward = [delivery_outcome(3, u, m, 0.3, 0.4) for u, m in reversed(pairs)]
    assert forward == list(reversed(backward))


def test_same_seed_same_statistics_other_seed_other_statistics():
    def stats(seed: int):
        with run(200, 2, seed=seed) as simulator:
            return simulator.statistics()

    assert stats(11) == stats(11)
    assert stats(11) != stats(12)


def test_every_user_gets_every_message_once():
    with run(50, 4) as simulator:
        simulator.statistics()
        deliveries = simulator.store.deliveries()
    assert Counter((d.user_id, d.message_id) for d in deliveries) == {
        (u, m): 1 for u in range(1, 51) for m in range(1, 5)
    }


@pytest.mark.parametrize(
    ("loss", "open_", "expected"),
    [
        (0.0, 1.0, DeliveryStatus.OPENED),
        (0.0, 0.0, DeliveryStatus.DELIVERED),
        (1.0, 1.0, DeliveryStatus.LOST),
    ],
)
def test_extreme_ratios_decide_every_delivery(loss, open_, expected):
    with run(20, 2, loss_ratio=loss, open_ratio=open_) as simulator:
        simulator.statistics()
        assert {d.status for d in simulator.store.deliveries()} == {expected}


@pytest.mark.parametrize("ratio", [-0.1, 1.5])
def test_ratios_outside_zero_to_one_are_refused(ratio):
    with pytest.raises(ValueError):
        Simulator(loss_ratio=ratio)
    with pytest.raises(ValueError):
        Simulator(open_ratio=ratio)


def test_every_delivery_waits_out_the_latency_once():
    waits: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    with run(25, 2, latency=0.25, sleep=record) as simulator:
        simulator.statistics()
    assert waits == [0.25] * 50


def test_rates_and_summary():
    with run(100, 1, seed=5, loss_ratio=0.5, open_ratio=0.5) as simulator:
        stats = simulator.statistics()
    assert stats.loss_rate == stats.lost / 100
    assert stats.open_rate == stats.opened / stats.delivered
    assert f"deliveries: 100\nlost: {stats.lost}" in stats.summary()


def test_example_script_prints_the_statistics(capsys):
    example = runpy.run_path(str(Path(__file__).parents[1] / "example.py"), run_name="example")
    assert example["main"](["--users", "30", "--messages", "2", "--latency", "0"]) == 0
    out = capsys.readouterr().out
    assert "users: 30\nmessages: 2\ndeliveries: 60\n" in out
