"""What the implementation under test may not do in a graded process, watched through the audit hook.

From frames of the implementation's own files, these are denied (the operation raises PermissionError) and
recorded as findings with the file and line: rewriting a function's code or defaults outside the
implementation, frame and garbage-collector introspection, tracing and profiling hooks, ctypes, compiling or
executing generated code, opening the records channel's descriptor or another process's environment or
memory, and writing, removing or renaming files outside the run's writable folders. An operation is the
implementation's when the innermost frame doing it is (for introspection, compiling and ctypes: helper modules
such as inspect, traceback and ctypes are looked through), or, for files, when the first frame on the stack that
is neither the standard library, an installed package nor the harness is the implementation's.
Standard library only: it runs beside the code under test.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from concgrade.inside import audit

MAX_FINDINGS = 100
CODE_ATTRIBUTES = frozenset({"__code__", "__defaults__", "__kwdefaults__"})
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
INTROSPECTION = frozenset(
    {"sys._getframe", "sys._current_frames", "gc.get_objects", "gc.get_referrers", "gc.get_referents"}
)
TRACING = frozenset(
    {
        "sys.settrace",
        "sys.setprofile",
        "sys.monitoring.register_callback",
        "sys.monitoring.use_tool_id",
        "sys.addaudithook",
    }
)
GENERATED_CODE = frozenset({"compile", "exec", "code.__new__", "marshal.loads", "marshal.load"})
CTYPES = frozenset(
    {
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.dlsym/handle",
        "ctypes.cdata",
        "ctypes.cdata/buffer",
        "ctypes.string_at",
        "ctypes.wstring_at",
        "ctypes.addressof",
        "ctypes.set_errno",
        "ctypes.call_function",
        "ctypes.seh_exception",
        "ctypes.get_errno",
    }
)
# Events that change the filesystem: (position of a path argument, position of its dir_fd or None), per path.
FILE_CHANGES: dict[str, tuple[tuple[int, int | None], ...]] = {
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.mkdir": ((0, 2),),
    "os.rename": ((0, 2), (1, 3)),
    "os.symlink": ((1, 2),),
    "os.link": ((1, 3),),
    "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),),
    "os.truncate": ((0, None),),
    "os.utime": ((0, 3),),
    "shutil.rmtree": ((0, 1),),
    "shutil.copyfile": ((1, None),),
    "shutil.copytree": ((1, None),),
    "shutil.move": ((0, None), (1, None)),
    "os.chflags": ((0, None),),
    "os.setxattr": ((0, None),),
    "os.removexattr": ((0, None),),
}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
OPEN_EVENTS = frozenset({"open", "os.open"})
# Helper modules whose frames stand for their caller: they hand frames (or memory) to whoever called them.
FRAME_HELPERS = ("inspect.py", "traceback.py")
ATTRIBUTE_HELPERS = ("inspect.py",)  # traceback reads tb_frame to format text, which is every program's right
CTYPES_HELPERS = ("ctypes/__init__.py", "ctypes/_endian.py")


@dataclass(frozen=True)
class Rules:
    """Where the implementation lives and what it may write, in the test process's own paths."""

    implementation_dirs: tuple[str, ...]
    writable: tuple[str, ...]
    channel_fds: tuple[int, ...]
    harness_dirs: tuple[str, ...] = ()
    # Folders inside a writable one that are not the run's (its scratch folder, inside the private /tmp):
    # only what `writable` names below them may be written.
    protected: tuple[str, ...] = ()


class FrameKinds:
    """Tells the implementation's frames from the standard library's, installed packages' and the harness's."""

    def __init__(self, rules: Rules) -> None:
        paths = sysconfig.get_paths()
        self._stdlib = _prefixes(paths.get(key, "") for key in ("stdlib", "platstdlib"))
        self._installed = _prefixes(
            [
                paths.get("purelib", ""),
                paths.get("platlib", ""),
                *rules.harness_dirs,
                *(p for p in sys.path if "site-packages" in p or "dist-packages" in p),
            ]
        )
        self._implementation = _prefixes(rules.implementation_dirs)
        self._cache: dict[str, str] = {}

    def kind(self, filename: str) -> str:
        """ "impl", "stdlib", "installed" (site-packages and the harness) or "task" (tests, conftest files...)."""
        known = self._cache.get(filename)
        if known is not None:
            return known
        if filename.startswith("<"):
            found = "stdlib"  # frozen modules and <string>: the import system and generated code
        elif filename.startswith(self._implementation):
            found = "impl"
        elif filename.startswith(self._installed):
            found = "installed"
        elif filename.startswith(self._stdlib):
            found = "stdlib"
        else:
            found = "task"
        self._cache[filename] = found
        return found

    def direct(self, frame: FrameType | None, helpers: tuple[str, ...] = ()) -> FrameType | None:
        """The frame that asked, looking through helper modules; None if a helper module asked at its import."""
        suffixes = tuple(os.sep + name for name in helpers)
        while frame is not None:
            if not suffixes or not frame.f_code.co_filename.endswith(suffixes):
                return frame
            if frame.f_code.co_name == "<module>":
                return None  # e.g. ctypes loading its own library while it is imported
            frame = frame.f_back
        return None

    def delegating(self, frame: FrameType | None) -> FrameType | None:
        """The first frame of task code (the implementation's, or the tests'), past libraries and the harness."""
        while frame is not None:
            if self.kind(frame.f_code.co_filename) in ("impl", "task"):
                return frame
            frame = frame.f_back
        return None


def _prefixes(paths: Iterable[str]) -> tuple[str, ...]:
    found = []
    for path in paths:
        if path:
            for variant in {os.path.abspath(path), os.path.realpath(path)}:
                found.append(variant.rstrip(os.sep) + os.sep)
    return tuple(dict.fromkeys(found))


class Containment:
    """The audit listener: decides, denies and keeps findings until the plugin drains them into records."""

    def __init__(self, rules: Rules, getframe: Callable[[int], FrameType] = sys._getframe) -> None:
        self.rules = rules
        self.kinds = FrameKinds(rules)
        self._writable = _prefixes(rules.writable)
        self._protected = _prefixes(rules.protected)
        self._findings: deque[tuple[str, str, str, bool]] = deque()
        self._seen: set[tuple[str, str]] = set()
        self._getframe = getframe
        self._realpath = os.path.realpath
        self._abspath = os.path.abspath
        self._channel = {str(fd) for fd in rules.channel_fds}

    # -- the listener ------------------------------------------------------------------------------
    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if event in OPEN_EVENTS:
            self._open(event, args)
        elif event in FILE_CHANGES:
            self._file_change(event, args)
        elif event == "object.__setattr__":
            self._set_attribute(args)
        elif event == "object.__getattr__":
            if len(args) > 1 and args[1] in FRAME_ATTRIBUTES:
                self._direct(event, f"read {args[1]}", ATTRIBUTE_HELPERS)
        elif event in INTROSPECTION:
            self._direct(event, event, FRAME_HELPERS)
        elif event in TRACING:
            self._direct(event, event)
        elif event in CTYPES:
            self._direct(event, event, CTYPES_HELPERS)
        elif event in GENERATED_CODE:
            self._direct(event, _describe_code(event, args))

    def events(self) -> frozenset[str]:
        return frozenset(
            {
                *OPEN_EVENTS,
                *FILE_CHANGES,
                "object.__setattr__",
                "object.__getattr__",
                *INTROSPECTION,
                *TRACING,
                *CTYPES,
                *GENERATED_CODE,
            }
        )

    # -- decisions ---------------------------------------------------------------------------------
    def _caller(self) -> FrameType | None:
        frame: FrameType | None = self._getframe(0)
        here = frame.f_code.co_filename if frame is not None else ""
        while frame is not None and frame.f_code.co_filename in (here, audit.__file__):
            frame = frame.f_back
        return frame

    def _direct(self, event: str, what: str, helpers: tuple[str, ...] = ()) -> None:
        frame = self.kinds.direct(self._caller(), helpers)
        if frame is not None and self.kinds.kind(frame.f_code.co_filename) == "impl":
            self._find(event, what, frame, deny=True)

    def _set_attribute(self, args: tuple[Any, ...]) -> None:
        if len(args) < 2 or args[1] not in CODE_ATTRIBUTES:
            return
        frame = self.kinds.direct(self._caller())
        if frame is None or self.kinds.kind(frame.f_code.co_filename) != "impl":
            return
        target = args[0]
        code = getattr(target, "__code__", None) if type(target).__name__ == "function" else None
        own = code is not None and self.kinds.kind(code.co_filename) == "impl"
        name = getattr(code, "co_qualname", getattr(code, "co_name", "?")) if code is not None else "?"
        where = f"{name} ({code.co_filename})" if code is not None else type(target).__name__
        self._find("object.__setattr__", f"set {args[1]} of {where}", frame, deny=not own)

    def _open(self, event: str, args: tuple[Any, ...]) -> None:
        path, mode, flags = (list(args) + [None, None, 0])[:3]
        if type(path) is int:
            if str(path) in self._channel:
                self._delegated(event, f"open the records channel's descriptor {path}")
            return
        text = _path_text(path)
        if text is None:
            if _writes(mode, flags):
                self._delegated(event, f"open a {type(path).__name__} path for writing")
            return
        sensitive = self._sensitive(text)
        if sensitive:
            self._delegated(event, f"open {text} ({sensitive})")
        elif _writes(mode, flags) and not self._is_writable(text):
            self._delegated(event, f"write {text} (outside the run's writable folders)")

    def _file_change(self, event: str, args: tuple[Any, ...]) -> None:
        for position, dir_fd in FILE_CHANGES[event]:
            if position >= len(args) or type(args[position]) is int:  # a descriptor: judged when it was opened
                continue
            text = _path_text(args[position])
            base = args[dir_fd] if dir_fd is not None and dir_fd < len(args) else None
            if text is not None and type(base) is int and base >= 0 and not text.startswith(os.sep):
                text = _fd_path(base, text)
            if text is None or not self._is_writable(text):
                shown = text if text is not None else type(args[position]).__name__
                self._delegated(event, f"{event} {shown} (outside the run's writable folders)")
                return

    def _delegated(self, event: str, what: str) -> None:
        frame = self.kinds.delegating(self._caller())
        if frame is not None and self.kinds.kind(frame.f_code.co_filename) == "impl":
            self._find(event, what, frame, deny=True)

    def _sensitive(self, path: str) -> str:
        if not path.startswith(("/proc/", "/dev/fd/")):
            return ""
        parts = path.split("/")
        if len(parts) >= 4 and parts[1] == "proc" and parts[3] in ("environ", "mem"):
            own = parts[2] in ("self", "thread-self", str(os.getpid()))
            if own and parts[3] == "environ":
                return ""  # its own environment: what it was given anyway
            return f"its own {parts[3]}" if own else f"another process's {parts[3]}"
        if parts[-1] in self._channel and parts[-2] == "fd":
            return "the records channel"
        return ""

    def _is_writable(self, path: str) -> bool:
        if path in ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"):
            return True
        real = self._realpath(self._abspath(path)) + os.sep
        writable = [prefix for prefix in self._writable if real.startswith(prefix)]
        if not writable:
            return False
        protected = [prefix for prefix in self._protected if real.startswith(prefix)]
        # Writable when the deepest folder it lies in is a writable one, not a protected one around it.
        return not protected or max(map(len, writable)) > max(map(len, protected))

    def _find(self, event: str, what: str, frame: FrameType, deny: bool) -> None:
        where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
        key = (what, where)
        if key not in self._seen and len(self._seen) < MAX_FINDINGS:
            self._seen.add(key)
            self._findings.append((event, what, where, deny))
        if deny:
            raise PermissionError(f"not allowed in a graded run: {what}")

    # -- the plugin's side -------------------------------------------------------------------------
    def drain(self) -> list[tuple[str, str, str, bool]]:
        """The findings since the last drain: (event, what, file:line, denied)."""
        found = []
        while self._findings:
            found.append(self._findings.popleft())
        return found


def _path_text(path: Any) -> str | None:
    """A path argument as text, without running any code of the object's (only builtin and pathlib types)."""
    kind = type(path)
    if kind is str:
        return path
    if kind is bytes:
        return path.decode("utf-8", "surrogateescape")
    if kind.__module__ == "pathlib" and kind.__name__ in ("PosixPath", "PurePosixPath", "WindowsPath", "Path"):
        return str(path)
    return None


def _fd_path(dir_fd: int, name: str) -> str | None:
    try:
        return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), name)
    except OSError:
        return None


def _writes(mode: Any, flags: Any) -> bool:
    if type(mode) is str and any(letter in mode for letter in "wax+"):
        return True
    return type(flags) is int and bool(flags & WRITE_FLAGS)


def _describe_code(event: str, args: tuple[Any, ...]) -> str:
    if event == "compile" and len(args) > 1:
        return f"compile generated code ({args[1]!s:.60})" if type(args[1]) is str else "compile generated code"
    return {"exec": "execute a code object", "code.__new__": "build a code object"}.get(event, event)


def install(rules: Rules) -> Containment:
    """Register the containment listener with the audit hook (the boot starts the hook afterwards)."""
    containment = Containment(rules)
    audit.listen(containment.events(), containment)
    return containment
