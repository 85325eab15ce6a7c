"""What the audit hook of a graded process costs: per event, and on the reference task's suite, hook on and off.

    python benchmarks/audit_hook_overhead.py [--repeats 5]

Each measurement runs in a fresh interpreter, the hook installed exactly as the boot installs it (the
import proof's file watch and the containment listener, both on the implementation's folder) or not at all, interleaved on and off so that
load from other processes falls on both alike. Two figures:
- per event: nanoseconds per operation for the kinds of event a graded process raises most (a file opened
  for reading, code compiled by the import system, an event no listener asks for), hook on minus hook off;
- the reference suite (`pytest tests/` on repository_after): the time spent inside the hook during one run
  (measured around the installed hook itself), the number of audit events it saw and the cost per event, as
  a share of the run's CPU time; and the median wall and CPU times of runs with the hook on and off (the
  suite mostly waits, so on a busy machine the time inside the hook is the steadier figure).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
EVALUATION = HERE / "evaluation"

INSTALL = """
import sys, time
sys.path.insert(0, {evaluation!r})
_inside = [0, 0.0]  # events seen by the hook, seconds spent in it
if {mode!r} != "off":
    from concgrade.inside import audit, containment
    from concgrade.inside.filewatch import FileWatch
    if {mode!r} == "timed":
        _make = audit._dispatcher
        def _timed_dispatcher(table):
            hook = _make(table)
            clock = time.perf_counter
            def timed(event, args):
                started = clock()
                try:
                    hook(event, args)
                finally:
                    _inside[0] += 1
                    _inside[1] += clock() - started
            return timed
        audit._dispatcher = _timed_dispatcher
    FileWatch([{impl!r}]).register()  # the boot's two listeners: the import proof's file watch, the containment
    rules = containment.Rules(implementation_dirs=({impl!r},), writable=({scratch!r},), channel_fds=())
    containment.install(rules)
    audit.start()
"""

PER_EVENT = """
import time, sys
N = 100_000
def timed(fn):
    fn()
    start = time.perf_counter_ns()
    for _ in range(N):
        fn()
    return (time.perf_counter_ns() - start) / N
path = {file!r}
results = {{
    "open a file for reading": timed(lambda: open(path, "rb").close()),
    "an event nobody listens to (id)": timed(lambda: id(path)),
    "compile from the import system's side": timed(lambda: compile("1", "<x>", "eval")),
}}
print(json.dumps(results))
"""

SUITE = """
import os, time, json, resource
import pytest
os.chdir({root!r})
started, cpu = time.perf_counter(), time.process_time()
code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:concgrade", "-p", "concgrade.inside.plugin", "tests"])
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
print(json.dumps({{"seconds": seconds, "cpu": cpu, "exit": int(code), "events": _inside[0], "inside": _inside[1]}}))
"""


def run(mode: str, body: str, scratch: str, **values: str) -> dict:
    impl = str(HERE / "repository_after")
    source = "import json\n" + INSTALL.format(evaluation=str(EVALUATION), mode=mode, impl=impl, scratch=scratch)
    source += body.format(**values)
    env = {**os.environ, "PYTHONPATH": impl, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True, env=env, cwd=HERE)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"{mode}: no result ({done.returncode}): {done.stdout[-1500:]}{done.stderr[-1500:]}")
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "file.txt"
        target.write_text("x")
        per_event = {"off": [], "on": []}
        suite = {"off": [], "on": []}
        for _ in range(args.repeats):
            for mode in ("off", "on"):
                per_event[mode].append(run(mode, PER_EVENT, scratch, file=str(target)))
                suite[mode].append(run(mode, SUITE, scratch, root=str(HERE)))
        timed = [run("timed", SUITE, scratch, root=str(HERE)) for _ in range(args.repeats)]
    print("per event (median ns per operation; hook off -> on, difference):")
    for name in per_event["off"][0]:
        off = statistics.median(r[name] for r in per_event["off"])
        on = statistics.median(r[name] for r in per_event["on"])
        print(f"  {name:40s} {off:8.0f} -> {on:8.0f}  (+{on - off:.0f} ns)")
    exits = {r["exit"] for mode in suite for r in suite[mode]}
    print(f"reference suite (pytest tests/ on repository_after, exits {sorted(exits)}):")
    inside = statistics.median(r["inside"] for r in timed)
    events = statistics.median(r["events"] for r in timed)
    cpu = statistics.median(r["cpu"] for r in timed)
    print(
        f"  inside the hook: {inside * 1000:.1f} ms per run over {events:.0f} events, {inside / events * 1e9:.0f} ns per "
        f"event, {inside / cpu:.1%} of the run's CPU time ({cpu:.2f} s)"
    )
    for figure in ("seconds", "cpu"):
        off = statistics.median(r[figure] for r in suite["off"])
        on = statistics.median(r[figure] for r in suite["on"])
        print(f"  median {'wall' if figure == 'seconds' else 'CPU'} time: hook off {off:.3f} s, on {on:.3f} s")


if __name__ == "__main__":
    main()
