"""Reading `[[workloads]]` from a manifest: what is accepted, and the one-line errors for what is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from concgrade.bench.measure import requested_by
from concgrade.errors import TaskError, UsageError
from concgrade.task.workloads import evaluate_expression, parse_workloads

MANIFEST = Path("/task/evaluation/concgrade.toml")


def workload(**keys):
    return {"workloads": [{"name": "w", "callable": "service:run", **keys}]}


def test_no_workloads_is_nothing_to_time():
    assert parse_workloads({}, MANIFEST) == ()


def test_a_full_declaration():
    (parsed,) = parse_workloads(
        workload(
            args_factory="bench_hooks:make_args",
            setup="bench_hooks:fast_io",
            probe="service:send",
            params={"users": 1000, "send_seconds": 0.004},
            ideal="users * send_seconds / 50",
            repeats=7,
            warmup=2,
            warmup_params={"users": 50},
            min_speedup=20,
            margin=0.2,
            timeout=60,
        ),
        MANIFEST,
    )
    assert parsed.callable == "service:run" and parsed.hooks == ("bench_hooks:make_args", "bench_hooks:fast_io")
    assert parsed.ideal_seconds == pytest.approx(0.08)
    assert (parsed.repeats, parsed.warmup, parsed.min_speedup, parsed.margin, parsed.timeout) == (7, 2, 20.0, 0.2, 60.0)
    assert parsed.warmup_params == {"users": 50}
    # The cache key covers what is measured, not the bar it is judged against.
    assert "min_speedup" not in parsed.identity() and parsed.identity()["params"]["users"] == 1000


def test_defaults():
    (parsed,) = parse_workloads(workload(args=[[1, 2, 3]], kwargs={"payload": "x"}), MANIFEST)
    assert (parsed.repeats, parsed.warmup, parsed.min_speedup, parsed.margin) == (5, 1, None, 0.1)
    assert parsed.args == [[1, 2, 3]] and parsed.kwargs == {"payload": "x"} and parsed.ideal_seconds is None


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ({"workloads": {"name": "w"}}, "write each workload as [[workloads]]"),
        (workload(callable="service.run"), "workloads[0] (w).callable must be 'module:function'"),
        ({"workloads": [{"callable": "a:b"}]}, "workloads[0].name must be a short name"),
        (workload(speed=3), "unknown key(s) ['speed']"),
        (workload(args=[1], args_factory="h:f"), "either args/kwargs or args_factory"),
        (workload(args="1, 2"), "(w).args must be an array"),
        (workload(repeats=2), "(w).repeats must be a whole number from 3"),
        (workload(warmup=-1), "(w).warmup must be a whole number from 0"),
        (workload(params={"n": 1}, warmup_params={"m": 1}), "(w).warmup_params overrides ['m'], which params does not"),
        (workload(min_speedup=0), "(w).min_speedup must be a positive number"),
        (workload(margin=1.5), "(w).margin must be a fraction"),
        (workload(ideal="users / 50"), "'users' is not a number declared in params"),
        (workload(ideal="__import__('os').system('true')", params={}), "only numbers, params names"),
        (workload(ideal="1 / 0"), "division by zero"),
        (workload(ideal=-1), "must come to a positive number of seconds"),
        (workload(params={"users": [1, 2]}), "(w).params must be a table of numbers"),
        (
            {"workloads": [{"name": "w", "callable": "a:b"}, {"name": "w", "callable": "a:c"}]},
            "names must be unique; repeated: w",
        ),
    ],
)
def test_bad_declarations_name_the_file_and_the_key(manifest, expected):
    with pytest.raises(TaskError) as error:
        parse_workloads(manifest, MANIFEST)
    message = str(error.value)
    assert message.startswith(f"{MANIFEST}: ") and expected in message, message
    assert "\n" not in message


def test_expressions_are_arithmetic_only():
    assert evaluate_expression("(a + b) * 2 ** 3 // 4 - -1", {"a": 1, "b": 2.5}) == pytest.approx(8.0)
    for hostile in ("a.__class__", "f(1)", "[1][0]", "a if a else 1", "'x' * 3"):
        with pytest.raises(ValueError):
            evaluate_expression(hostile, {"a": 1, "f": 1})
    with pytest.raises(ValueError):
        evaluate_expression("2 ** 1000", {})


def test_when_the_benchmark_runs():
    gated = parse_workloads(workload(min_speedup=2), MANIFEST)
    reported = parse_workloads(workload(), MANIFEST)
    assert requested_by("auto", gated) == "manifest"  # the gate needs it
    assert requested_by("auto", reported) is None  # figures only on request
    assert requested_by("on", reported) == "flag"
    assert requested_by("off", gated) is None  # --no-bench: the verdict is the tests' alone
    with pytest.raises(UsageError, match="declares no"):
        requested_by("on", ())
