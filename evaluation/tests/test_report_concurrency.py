"""The report's concurrency view: FAIL_TO_PASS tests first, the strongest repeat shown, charts scaled (pure)."""

from __future__ import annotations

from types import SimpleNamespace

from concgrade.report.concurrency import concurrency_rows, step_chart


def a_test(nodeid, suite, *probes):
    return SimpleNamespace(nodeid=nodeid, suite=suite, probes=list(probes))


def test_rows_put_fail_to_pass_first_and_show_the_highest_peak_of_the_repeats():
    figures = {"label": "m.f", "kind": "threads", "calls": 4, "timeline": [[0.0, 1], [0.5, 2], [1.0, 0]]}
    results = SimpleNamespace(
        implementations={
            "before": SimpleNamespace(tests=[a_test("t.py::b", "PASS_TO_PASS", {**figures, "max_active": 1})]),
            "after": SimpleNamespace(
                tests=[
                    a_test("t.py::b", "PASS_TO_PASS", {**figures, "max_active": 1}),
                    a_test(
                        "t.py::a",
                        "FAIL_TO_PASS",
                        {**figures, "max_active": 2, "repeat": 0},
                        {**figures, "max_active": 3, "repeat": 1},
                    ),
                ]
            ),
        }
    )
    rows = concurrency_rows(results)
    assert [(row["nodeid"], row["suite"]) for row in rows] == [("t.py::a", "FAIL_TO_PASS"), ("t.py::b", "PASS_TO_PASS")]
    cell = rows[0]["cells"]["after"]
    assert cell["repeat"] == 1 and ("at once", 3) in cell["shown"] and "before" not in rows[0]["cells"]
    assert rows[1]["cells"]["before"]["chart"]["peak"] == 2


def test_step_chart_spans_the_box():
    chart = step_chart([(0.0, 1), (1.0, 2), (2.0, 0)], width=100, height=50)
    points = [tuple(map(float, point.split(","))) for point in chart["points"].split()]
    assert points[0] == (0.0, 50.0) and points[-1] == (100.0, 50.0)
    assert min(y for _, y in points) == 4.0 and chart["peak"] == 2
    assert step_chart([]) is None
