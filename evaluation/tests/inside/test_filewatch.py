"""The one audit hook and the file watch, each in a fresh interpreter (a hook cannot be removed once added)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

EVALUATION = str(Path(__file__).resolve().parents[2])


def in_a_fresh_interpreter(script: str, cwd: Path, env: dict[str, str] | None = None) -> dict:
    """Run `script` in its own interpreter with concgrade importable; it prints one JSON object."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": EVALUATION, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def implementation(tmp_path: Path) -> Path:
    for name, text in {
        "repository_after/counter.py": "VALUE = 1\n",
        "repository_after/pkg/inner.py": "VALUE = 2\n",
        "repository_after/data.json": "{}",
        "repository_before/counter.py": "VALUE = 0\n",
    }.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_every_way_of_reading_the_implementation_is_seen_and_nothing_else(tmp_path):
    root = implementation(tmp_path)
    found = in_a_fresh_interpreter(
        """
        import importlib.util, json, os, sys
        from concgrade.inside.filewatch import FileWatch
        watch = FileWatch(["repository_after"]).start()
        sys.path.insert(0, "repository_after")
        import counter                      # an import
        import pkg.inner                    # a namespace package
        spec = importlib.util.spec_from_file_location("any_name", "repository_after/counter.py")
        spec.loader.exec_module(importlib.util.module_from_spec(spec))  # a load by path, under another name
        open("repository_after/data.json").read()                       # data
        open("repository_before/counter.py").read()                      # another folder: not watched
        open("repository_after/written.txt", "w").write("x")             # a write: not a read
        print(json.dumps([os.path.relpath(p) for p in watch.take_new()]))
        """,
        root,
    )
    assert found == ["repository_after/counter.py", "repository_after/pkg/inner.py", "repository_after/data.json"]


def test_a_child_started_with_the_folder_is_seen_from_the_parent(tmp_path):
    root = implementation(tmp_path)
    found = in_a_fresh_interpreter(
        """
        import json, os, subprocess, sys
        from concgrade.inside.filewatch import FileWatch
        watch = FileWatch(["repository_after"]).start()
        env = {"PYTHONPATH": "repository_after", "PATH": os.environ.get("PATH", "")}  # replaced: no shim there
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        subprocess.run([sys.executable, "repository_after/counter.py"], check=True)
        print(json.dumps([os.path.relpath(p) for p in watch.take_new()]))
        """,
        root,
    )
    assert found == ["repository_after", "repository_after/counter.py"]


def test_one_sealed_hook_many_listeners_a_raising_listener_denies_and_a_listener_is_not_reentered(tmp_path):
    found = in_a_fresh_interpreter(
        """
        import json, sys
        from concgrade.inside import audit
        seen = []
        def record(event, args):
            seen.append(event)
            open(__import__("os").devnull).close()  # raises `open` again: not dispatched to itself
        def deny(event, args):
            if args and str(args[0]).endswith("forbidden.txt"):
                raise PermissionError("denied by a listener")
        audit.listen(("open",), record)
        audit.listen(("open",), deny)
        first, again = audit.start(), audit.start()  # a second start installs no second hook
        try:
            audit.listen(("open",), record)
            late = "accepted"
        except RuntimeError:
            late = "refused"
        open(__import__("os").devnull).close()
        try:
            open("forbidden.txt", "w")
            denied = False
        except PermissionError:
            denied = True
        print(json.dumps({"opens": seen.count("open"), "denied": denied, "starts": [first, again], "late": late}))
        """,
        tmp_path,
    )
    assert found == {"opens": 2, "denied": True, "starts": [True, False], "late": "refused"}
    assert not (tmp_path / "forbidden.txt").exists()


def test_a_child_interpreter_with_the_shim_on_its_path_writes_what_it_read(tmp_path):
    """The shim's sitecustomize starts the watch in every child interpreter that inherits PYTHONPATH."""
    from concgrade.inside.protocol import LOADS_SUFFIX, WATCH_CONFIG, WatchConfig
    from concgrade.run.readers import read_line_files
    from concgrade.run.scratch import make_shim

    root = implementation(tmp_path / "task")
    shim = make_shim(tmp_path / "shim")
    events = tmp_path / "events"
    events.mkdir()
    (shim / WATCH_CONFIG).write_text(WatchConfig(str(events), (str(root / "repository_after"),)).to_json())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(root / "repository_after")])}
    done = subprocess.run([sys.executable, "-c", "import counter"], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert read_line_files(events, LOADS_SUFFIX) == [str(root / "repository_after" / "counter.py")]
