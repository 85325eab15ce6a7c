"""The benchmark's checks: from measured figures to pass, fail or error (pure, no processes)."""

from __future__ import annotations

from concgrade.bench.gate import speedup_checks
from concgrade.bench.model import BenchResults, implementation_bench, workload_bench
from concgrade.task.workloads import parse_workloads

PROOF = {"module": "svc", "file": "repository_x/svc.py", "sha256": "0" * 64, "expected": True}


def records(seconds: list[float], digest: str | None = "same", expected: bool = True) -> list[dict]:
    return [
        {"ok": True, "seconds": s, "imported": {**PROOF, "expected": expected}, "result_digest": digest}
        for s in seconds
    ]


SLOW = [1.00, 1.02, 0.98, 1.01, 0.99]
FAST = [0.10, 0.11, 0.10, 0.09, 0.10]


def judge(before, after, candidate=None, **workload_keys) -> dict[str, tuple[str, str]]:
    keys = {"name": "w", "callable": "svc:run", "min_speedup": 5, **workload_keys}
    (workload,) = parse_workloads({"workloads": [keys]}, None)
    impls = {"before": before, "after": after}
    if candidate is not None:
        impls["candidate"] = candidate
    bench = BenchResults("manifest", [workload_bench(workload, impls)], cache={})
    return {check.id: (check.status, check.message) for check in speedup_checks(bench)}


def impl(name: str, seconds: list[float], failure=None, **record_keys):
    role = "before" if name == "before" else "after"
    return implementation_bench(name, role, records(seconds, **record_keys), None, failure)


def test_a_clear_speedup_passes_and_a_flat_one_fails():
    checks = judge(impl("before", SLOW), impl("after", FAST), impl("candidate", SLOW))
    assert checks["bench.speedup.after"][0] == "pass" and "reaches the declared 5x" in checks["bench.speedup.after"][1]
    assert checks["bench.speedup.candidate"][0] == "fail"
    assert "below the declared 5x" in checks["bench.speedup.candidate"][1]


def test_no_baseline_is_an_error_of_the_task_and_a_broken_refactor_is_a_failure():
    broken_before = impl("before", [], failure=("error", "ValueError: x (during call)"))
    assert judge(broken_before, impl("after", FAST))["bench.speedup.after"][0] == "error"
    timed_out = impl("after", [], failure=("timeout", "a repeat ran past 5s and was killed"))
    status, message = judge(impl("before", SLOW), timed_out)["bench.speedup.after"]
    assert status == "fail" and "ran past 5s" in message


def test_timing_code_from_elsewhere_never_counts():
    status, message = judge(impl("before", SLOW), impl("after", FAST, expected=False))["bench.speedup.after"]
    assert status == "fail" and "from outside its folder" in message
    assert judge(impl("before", SLOW, expected=False), impl("after", FAST))["bench.speedup.after"][0] == "error"


def test_a_different_result_is_not_the_same_work():
    status, message = judge(impl("before", SLOW), impl("after", FAST, digest="other"))["bench.speedup.after"]
    assert status == "fail" and "returned something else than before" in message
    # A task whose results legitimately differ says so; a result that is not plain data is not compared.
    assert (
        judge(impl("before", SLOW), impl("after", FAST, digest="other"), same_result=False)["bench.speedup.after"][0]
        == "pass"
    )
    assert judge(impl("before", SLOW, digest=None), impl("after", FAST, digest="x"))["bench.speedup.after"][0] == "pass"


def test_no_declared_minimum_no_check():
    (workload,) = parse_workloads({"workloads": [{"name": "w", "callable": "svc:run"}]}, None)
    bench = BenchResults(
        "flag", [workload_bench(workload, {"before": impl("before", SLOW), "after": impl("after", SLOW)})], {}
    )
    assert speedup_checks(bench) == []
    assert bench.workloads[0].comparisons[0].passed is None and bench.workloads[0].comparisons[0].speedup is not None
