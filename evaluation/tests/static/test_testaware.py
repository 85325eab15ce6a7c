"""Test-aware code: each way an implementation can look for a test or a grade is found, with its line."""

from __future__ import annotations

import textwrap

import pytest

from concgrade.static.testaware import find_test_aware

CASES = {
    "TA001": "import sys\ngraded = 'x' in sys.modules\n",
    "TA002": "import os\ngraded = os.environ.get('PYTEST_CURRENT_TEST')\n",
    "TA003": "import inspect\nframes = inspect.stack()\n",
    "TA004": "def f():\n    pass\nwrapped = hasattr(f, '__wrapped__')\n",
    "TA005": "def send():\n    pass\n_own = send\ndef probed():\n    return send is not _own\n",
    "TA006": "graded = 'concgrade' in __file__\n",
}


def assert_found_with_its_line(rule: str, source: str) -> None:
    findings = find_test_aware({"m.py": source})
    assert rule in {f.id for f in findings}, findings
    finding = next(f for f in findings if f.id == rule)
    assert finding.path == "m.py" and finding.line >= 1 and finding.severity == "error"


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_way_of_looking_is_found_with_its_line(rule):
    assert_found_with_its_line(rule, CASES[rule])


def test_ordinary_concurrent_code_is_not_test_aware():
    source = textwrap.dedent(
        '''
        """Docstrings may mention pytest, PYTEST_CURRENT_TEST or concgrade: they are not code."""
        import logging, sys, threading, traceback
        from concurrent.futures import ThreadPoolExecutor
        _pool = None
        log = logging.getLogger(__name__)

        def run(items):
            global _pool
            if _pool is None:
                _pool = ThreadPoolExecutor(4)
            try:
                return list(_pool.map(str, items))
            except Exception:
                log.error(traceback.format_exc())
                raise

        module = sys.modules[__name__]
        '''
    )
    assert find_test_aware({"m.py": source}) == []


def test_a_file_that_does_not_parse_is_left_to_the_other_checks():
    assert find_test_aware({"broken.py": "def (:\n"}) == []


STRESS_TELLS = {
    "switch interval": "import sys\nstressed = sys.getswitchinterval() < 0.001\n",
    "imported getter": "from sys import getswitchinterval\n",
    "LockType": "import _thread, threading\nstressed = not isinstance(threading.Lock(), _thread.LockType)\n",
    "builtin sleep": "import inspect, time\nstressed = not inspect.isbuiltin(time.sleep)\n",
    "lock type compared": "import threading\nstressed = type(threading.Lock()) is not type(threading.RLock())\n",
    "lock type's name": "import threading\nstressed = type(threading.Lock()).__name__ != 'lock'\n",
    "sleep's insides": "import time\nstressed = hasattr(time.sleep, '__code__')\n",
    "lock class identity": "import _thread, threading\nstressed = threading.Lock is not _thread.allocate_lock\n",
    "threading's sys": "import sys, threading\ngraded = threading._sys is not sys\n",
}


@pytest.mark.parametrize("tell", sorted(STRESS_TELLS))
def test_looking_for_the_stress_mode_is_found(tell):
    assert_found_with_its_line("TA007", STRESS_TELLS[tell])


def test_ordinary_uses_of_locks_sleep_and_the_switch_interval_are_not_looking_for_stress():
    source = textwrap.dedent(
        """
        import _thread, sys, threading, time
        LockType = type(threading.Lock())  # a name for annotations
        sys.setswitchinterval(0.001)

        def hold(lock: _thread.LockType, seconds: float) -> None:
            held: _thread.LockType = lock
            with held:
                time.sleep(seconds)

        def main_only(worker):
            return isinstance(worker, threading.Thread) and threading.current_thread() is threading.main_thread()
        """
    )
    assert [f for f in find_test_aware({"m.py": source}) if f.id == "TA007"] == []


CIRCUMSTANCE_TELLS = {
    "small pid": "import os\ngraded = os.getpid() < 1000\n",
    "small parent pid": "import os as _os\ngraded = 5 > _os.getppid()\n",
    "user without an account": "import os, pwd\ngraded = pwd.getpwuid(os.getuid())\n",
    "limits": "import resource as _r\ngraded = _r.getrlimit(_r.RLIMIT_CPU)[0] != _r.RLIM_INFINITY\n",
    "imported getter": "from resource import getrlimit\n",
    "faulthandler": "import faulthandler\ngraded = faulthandler.is_enabled()\n",
    "signal handlers": "import signal\ngraded = signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL\n",
    "exception hook": "import threading\ngraded = threading.excepthook is not threading.__excepthook__\n",
    "working folder": "import os\ngraded = os.path.basename(os.getcwd()) == 'repo'\n",
    "home": "import os, tempfile\ngraded = os.path.expanduser('~').startswith(tempfile.gettempdir())\n",
    "pid 1": "graded = open('/proc/1/comm').read().strip() == 'bwrap'\n",
    "cgroup": "graded = b'x' in open(b'/proc/self/cgroup', 'rb').read()\n",
    "boot command line": "import sys\ngraded = len(sys.orig_argv) == 3 and sys.orig_argv[-1].isdigit()\n",
    "start-up flags": "import sys as _s\ngraded = _s.flags.dont_write_bytecode or _s.dont_write_bytecode\n",
}


@pytest.mark.parametrize("tell", sorted(CIRCUMSTANCE_TELLS))
def test_looking_at_what_a_graded_run_changes_about_the_process_is_found(tell):
    assert_found_with_its_line("TA008", CIRCUMSTANCE_TELLS[tell])


ORIGIN_TELLS = {
    "bound method": "def send():\n    pass\ngraded = hasattr(send, '__self__')\n",
    "module": "def send():\n    pass\ngraded = send.__module__ != __name__\n",
    "code file": "def send():\n    pass\ngraded = send.__code__.co_filename != __file__\n",
    "type": "import types\ndef send():\n    pass\ngraded = not isinstance(send, types.FunctionType)\n",
}


@pytest.mark.parametrize("tell", sorted(ORIGIN_TELLS))
def test_asking_where_a_function_comes_from_is_found(tell):
    assert_found_with_its_line("TA005", ORIGIN_TELLS[tell])


def test_ordinary_uses_of_the_pid_folders_and_hooks_are_not_looking_at_the_process():
    source = textwrap.dedent(
        """
        import os, tempfile, threading, logging
        from pathlib import Path

        _owner = os.getpid()
        log = logging.getLogger(__name__)


        def send(user):
            return user


        def pool():
            global _owner
            if os.getpid() != _owner:  # forked: this process starts with a pool of its own
                _owner = os.getpid()
            return _owner


        def root_home():
            import pwd
            return pwd.getpwuid(0).pw_dir  # an account by its number: nothing about this process


        def worker(parent):
            while os.getppid() == parent:
                break


        def journal():
            folder = Path(tempfile.gettempdir()) / "notify"
            folder.mkdir(exist_ok=True)
            return os.path.join(os.getcwd(), "out"), folder, log.name, send.__name__


        def _log_thread_errors(args):
            log.error("thread failed: %s", args.exc_value)


        _default_hook = threading.excepthook  # chained to, and put back
        threading.excepthook = _log_thread_errors
        restore = lambda: setattr(threading, "excepthook", threading.__excepthook__)
        workers = int(os.environ.get("NOTIFY_WORKERS", "50"))
        """
    )
    assert find_test_aware({"m.py": source}) == []


def test_code_the_rules_cannot_read_is_found_by_name_or_content(tmp_path):
    import importlib.util
    import io
    import marshal
    import zipfile

    from concgrade.files import read_file_ends
    from concgrade.static.testaware import find_unreadable_code

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("_tells.py", "graded = True\n")
    files = {
        "_tells.pyc": importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(compile("x = 1", "t", "exec")),
        "lib/fast.cpython-311-x86_64-linux-gnu.so": b"\x7fELF" + b"\0" * 60,
        "tells.dat": b"a picture, then" + archive.getvalue(),  # zipimport reads the end record: any name will do
        "notify_service.py": b"import os\n",
        "receipt.txt": b"notified {user}\n",
        "table.csv": b"id,name\n1,PK\n",
    }
    for relative, data in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(data)
    ends = read_file_ends(tmp_path)
    assert "notify_service.py" not in ends and ends["receipt.txt"] == (files["receipt.txt"], files["receipt.txt"])
    found = find_unreadable_code(ends)
    assert [(f.id, f.path, f.severity) for f in found] == [
        ("TA009", "_tells.pyc", "error"),
        ("TA009", "lib/fast.cpython-311-x86_64-linux-gnu.so", "error"),
        ("TA009", "tells.dat", "error"),
    ]
    assert "zip archive" in found[2].message
    assert find_unreadable_code(ends, known={"lib/fast.cpython-311-x86_64-linux-gnu.so"})[1].path == "tells.dat"


BUILT_NAMES = {
    "sys.modules by pieces": "graded = 'py' + 'test' in getattr(__import__('s' + 'ys'), 'mod' + 'ules')\n",
    "joined": "graded = ''.join(['py', 'test'])\n",
    "f-string": "graded = f\"{'con'}cgrade\"\n",
    "reversed": "graded = 'tsetyp'[::-1]\n",
    "variable": "import os\ngraded = os.environ.get('PYTEST' + '_CURRENT_TEST')\n",
    "computed import": "name = 'sys'\nmodule = __import__(name)\n",
    "sys by getattr": "import sys\nloaded = getattr(sys, 'modules')\n",
}


@pytest.mark.parametrize("built", sorted(BUILT_NAMES))
def test_a_name_put_together_from_literal_pieces_reads_as_what_it_puts_together(built):
    findings = find_test_aware({"m.py": BUILT_NAMES[built]})
    assert {f.id for f in findings} & {"TA001", "TA002", "TA006"}, findings


def test_ordinary_string_building_is_not_a_built_name():
    source = textwrap.dedent(
        """
        import importlib
        prefix = "notified user "
        line = prefix + str(7) + ": " + "hello"
        joined = ", ".join(["a", "b"])
        label = f"{prefix}{line}"
        backwards = "abc"[::-1]
        json = __import__("json")
        codec = importlib.import_module("encodings." + "utf_8")
        """
    )
    assert find_test_aware({"m.py": source}) == []
