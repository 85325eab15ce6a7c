"""Which files of the implementation folders an interpreter opened for reading: imports, loads by path, data files.

The import proof needs to know what a run really read of each implementation, however the tests reach it:
`import m`, `importlib.util.spec_from_file_location(...)`, a namespace or `src/` package, a JSON artifact, or
a child `python -m pytest repository_after/...` started by a meta test. Every one of those opens the file, and
every open raises the audit event `open`, so one listener on that event sees them all.

In the test process the plugin's watch is armed by the boot and reports on the signed channel. Child
interpreters of the run (which load the shim's `sitecustomize`) start a watch from the shim's config file
and append each new path, with one unbuffered write, to a file of their own in the run's events folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from concgrade.inside import audit, protocol

WRITE_CHARACTERS = frozenset("wax+")


def writes(mode: object, flags: object) -> bool:
    """Whether an `open` event's mode (io.open) or flags (os.open) ask for writing."""
    if isinstance(mode, str):
        return bool(WRITE_CHARACTERS & set(mode))
    if isinstance(flags, int):
        return flags & os.O_ACCMODE != os.O_RDONLY
    return False


def prefixes_of(folders: list[str]) -> tuple[str, ...]:
    """Each folder as a path prefix, both as given (made absolute) and with its symlinks resolved."""
    found = set()
    for folder in folders:
        for form in (os.path.abspath(folder), os.path.realpath(folder)):
            found.add(os.path.join(form, ""))
    return tuple(sorted(found))


class FileWatch:
    """Records each file below the watched folders the first time this interpreter opens it for reading."""

    def __init__(self, folders: list[str], on_new: Callable[[str], None] | None = None) -> None:
        self.prefixes = prefixes_of(folders)
        self._seen: set[str] = set()
        self._new: list[str] = []
        self._on_new = on_new

    def register(self) -> FileWatch:
        """Listen to the audit hook's events (before it starts: the boot starts it, sealed, after containment)."""
        if self.prefixes:
            audit.listen(("open",), self.on_open)
            audit.listen(("subprocess.Popen", "os.posix_spawn", "os.exec"), self.on_spawn)
        return self

    def start(self) -> FileWatch:
        """Register and start the hook: in an interpreter where nothing else does (a child of the run, a test)."""
        self.register()
        audit.start()
        return self

    def on_open(self, event: str, args: tuple[object, ...]) -> None:
        try:
            self.record(*args[:3])
        except Exception:  # noqa: BLE001 - a recording listener must never deny the open
            pass

    def on_spawn(self, event: str, args: tuple[object, ...]) -> None:
        """A child the tests start is given the implementation by its command line, PYTHONPATH or working folder
        (`python -m pytest repository_after/test_x.py` with `PYTHONPATH=repository_after`): what it names is
        recorded, since a child whose environment was replaced does not load the shim's watch."""
        try:
            self.record_spawn(*args[:4])
        except Exception:  # noqa: BLE001 - never deny a process start
            pass

    def record_spawn(self, executable: object, argv: object = (), cwd: object = None, env: object = None) -> None:
        base = os.fsdecode(cwd) if isinstance(cwd, (str, bytes, os.PathLike)) else os.getcwd()
        words = list(argv) if isinstance(argv, (list, tuple)) else [argv]
        if isinstance(env, dict):
            value = env.get("PYTHONPATH", env.get(b"PYTHONPATH", ""))
            words += os.fsdecode(value).split(os.pathsep) if isinstance(value, (str, bytes)) else []
        if cwd is not None:
            words.append(base)
        for word in words:
            if isinstance(word, (str, bytes, os.PathLike)):
                path = os.path.join(base, os.fsdecode(word))
                if os.path.exists(path):
                    self.record(path)

    def record(self, path: object, mode: object = "r", flags: object = 0) -> None:
        if not isinstance(path, (str, bytes, os.PathLike)) or writes(mode, flags):
            return  # a descriptor (os.fdopen) or nothing: not a file of a folder
        full = os.path.abspath(os.fsdecode(path))
        if full in self._seen or not (full + os.sep).startswith(self.prefixes) or "__pycache__" in full:
            return  # (a folder itself counts: a child started in, or with, an implementation folder)
        self._seen.add(full)
        self._new.append(full)
        if self._on_new is not None:
            self._on_new(full)

    def take_new(self) -> list[str]:
        """The files first opened since the last call, in the order they were opened."""
        new, self._new = self._new, []
        return new


def start_child_watch(shim: str) -> FileWatch | None:
    """In a child interpreter of a run: watch the folders the shim's config names (nothing without a config)."""
    try:
        with open(os.path.join(shim, protocol.WATCH_CONFIG), encoding="utf-8") as handle:
            config = protocol.WatchConfig.from_json(handle.read())
    except OSError:
        return None
    if config is None:
        return None
    target = os.path.join(config.events_dir, f"{os.getpid()}{protocol.LOADS_SUFFIX}")

    def append(path: str) -> None:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (path + "\n").encode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)

    return FileWatch(list(config.folders), append).start()
