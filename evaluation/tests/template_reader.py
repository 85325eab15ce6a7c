"""A reader written only against the common dataset evaluation-report template, as a dataset's own tools are.

Usage: python template_reader.py results.json → prints {"before": {...}, "after": {...}, ...} as JSON.
It knows nothing of concgrade: only run_id, success, error, results.<impl>.{success, exit_code, tests, summary}
and comparison.
"""

import json
import sys


def counts(report):
    out = {"run_id": report["run_id"], "success": report["success"], "error": report["error"]}
    for name, result in report["results"].items():
        tests = result["tests"]
        out[name] = {
            "total": len(tests),
            "passed": sum(1 for test in tests if test["outcome"] == "passed"),
            "failed": sum(1 for test in tests if test["outcome"] == "failed"),
            "summary": result["summary"],
            "success": result["success"],
            "exit_code": result["exit_code"],
        }
    out["comparison"] = {
        key: report["comparison"][key]
        for key in ("before_tests_passed", "after_tests_passed", "before_passed", "after_passed")
    }
    return out


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        print(json.dumps(counts(json.load(handle))))
