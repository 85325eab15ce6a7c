"""The audit hook's containment: what the implementation's frames may not do, denied with file and line.

Each case runs in a fresh interpreter with the hook installed as the boot installs it, an "implementation"
folder in tmp_path doing one thing, and the test code (outside that folder) doing the same, which is allowed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

EVALUATION = Path(__file__).resolve().parents[2]

RUNNER = """
import json, sys
sys.path.insert(0, {evaluation!r})
from concgrade.inside import audit, containment
rules = containment.Rules(implementation_dirs=({impl!r},), writable=({writable!r},), channel_fds=(7,))
watch = containment.install(rules)
audit.start()
sys.path.insert(0, {impl!r})
outcomes = {{}}
try:
    import attempt
    outcomes["implementation"] = attempt.run()
except PermissionError as exc:
    outcomes["implementation"] = "denied: " + str(exc)
outcomes["findings"] = [list(f) for f in watch.drain()]
print(json.dumps(outcomes, default=str))
"""

ATTEMPTS = {
    "gc": "import gc\ndef run():\n    return len(gc.get_objects())\n",
    "frames": "import sys\ndef run():\n    return sys._getframe(1).f_code.co_name\n",
    "inspect": "import inspect\ndef run():\n    return len(inspect.stack())\n",
    "traceback frames": "def run():\n    try:\n        raise ValueError\n    except ValueError as e:\n        return e.__traceback__.tb_frame\n",
    "ctypes": "import ctypes\ndef run():\n    return ctypes.CDLL(None)\n",
    "settrace": "import sys\ndef run():\n    sys.settrace(None)\n",
    "code rewrite": "import json\ndef run():\n    json.dumps.__code__ = run.__code__\n",
    "generated code": "def run():\n    return eval('1 + 1')\n",
    "write outside": "def run():\n    open('/var/tmp/concgrade-containment-test', 'w').write('x')\n",
    "channel descriptor": "def run():\n    return open('/proc/self/fd/7', 'w')\n",
    "another environment": "def run():\n    return open('/proc/1/environ', 'rb').read()\n",
}


def contained(tmp_path: Path, source: str) -> dict:
    impl = tmp_path / "impl"
    impl.mkdir(exist_ok=True)
    (impl / "attempt.py").write_text(source)
    writable = tmp_path / "writable"
    writable.mkdir(exist_ok=True)
    code = RUNNER.format(evaluation=str(EVALUATION), impl=str(impl), writable=str(writable))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", sorted(ATTEMPTS))
def test_the_implementation_is_denied_and_the_finding_names_its_line(tmp_path, name):
    outcome = contained(tmp_path, ATTEMPTS[name])
    assert str(outcome["implementation"]).startswith("denied: not allowed in a graded run"), outcome
    (event, what, where, denied), *_ = outcome["findings"]
    assert denied and where.startswith(str(tmp_path / "impl" / "attempt.py") + ":") and what


def test_ordinary_code_of_the_implementation_is_left_alone(tmp_path):
    source = textwrap.dedent(
        """
        import collections, logging, os, tempfile, threading, traceback, warnings
        from concurrent.futures import ThreadPoolExecutor

        def run():
            point = collections.namedtuple("Point", "x y")(1, 2)  # exec and frames inside the standard library
            logging.getLogger("x").warning("a message")  # logging reads frames for the caller's line
            warnings.warn("careful")
            with ThreadPoolExecutor(2) as pool:
                doubled = list(pool.map(lambda v: v * 2, [point.x, point.y]))
            try:
                raise ValueError("shown")
            except ValueError:
                text = traceback.format_exc()  # formatting a traceback is every program's right
            with open(os.path.join(WRITABLE, "ok.txt"), "w") as handle:  # inside the run's folders
                handle.write(text)
            import ctypes  # importing ctypes loads its library: allowed, using it is not
            return doubled
        """
    )
    writable = tmp_path / "writable"
    outcome = contained(tmp_path, f"WRITABLE = {str(writable)!r}\n" + source)
    assert outcome["implementation"] == [2, 4] and outcome["findings"] == []


def test_code_outside_the_implementation_may_do_what_the_implementation_may_not(tmp_path):
    source = "def run():\n    import gc\n    return 'test code'\n"
    outcome = contained(tmp_path, source)
    assert outcome["findings"] == []
    code = RUNNER.replace(
        '    import attempt\n    outcomes["implementation"] = attempt.run()',
        '    import gc\n    outcomes["implementation"] = len(gc.get_objects()) > 0',
    )
    impl = tmp_path / "impl"
    done = subprocess.run(
        [sys.executable, "-c", code.format(evaluation=str(EVALUATION), impl=str(impl), writable=str(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"implementation": True, "findings": []}
