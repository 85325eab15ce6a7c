"""Inside the test process: notices code that tampers with pytest's machinery, the harness, or the tests themselves.

Four layers, each recorded for the harness to judge:
- the identity (object and code) of pytest's reporting functions, snapshotted before any task code ran and
  compared after every test phase, and the functions and classes of concgrade's own in-process modules
  (a replaced serializer, a probe class given a new attribute);
- the hook implementations of the reporting hooks, with the file each comes from;
- what the test really did (the exception its call raised, the outcome pytest's own hook produced),
  seen from the innermost hook wrappers, compared with the report that reached the end of the chain;
- the tests as pytest collected them (`test_changed`): each test's function and code object, the item's own
  `runtest`, and the functions and classes of its module, compared right before each call.
Everything here runs in the same interpreter as the code under test: see the note in docs for what it misses.
"""

from __future__ import annotations

import inspect
import os
import sys
import sysconfig
import types
from collections.abc import Callable, Generator, Iterator
from typing import Any

import pytest

from concgrade.inside import protocol
from concgrade.inside.disguise import SWAPPED
from concgrade.inside.testcode import ExpectedCode

# (module, dotted attribute) pairs whose identity must not change while the tests run.
WATCHED = (
    ("_pytest.runner", "call_and_report"),
    ("_pytest.runner", "runtestprotocol"),
    ("_pytest.runner", "call_runtest_hook"),
    ("_pytest.runner", "pytest_runtest_protocol"),
    ("_pytest.runner", "pytest_runtest_makereport"),
    ("_pytest.runner", "CallInfo"),
    ("_pytest.runner", "TestReport"),
    ("_pytest.runner", "CallInfo.from_call"),
    ("_pytest.reports", "TestReport"),
    ("_pytest.reports", "TestReport.from_item_and_call"),
    ("_pytest.reports", "TestReport.__init__"),
    ("_pytest.reports", "BaseReport.passed"),
    ("_pytest.reports", "BaseReport.failed"),
    ("_pytest.python", "pytest_pyfunc_call"),
    ("_pytest.python", "Function.runtest"),
    ("_pytest.skipping", "pytest_runtest_makereport"),
    ("_pytest.main", "pytest_runtestloop"),
    ("_pytest.terminal", "TerminalReporter.pytest_runtest_logreport"),
    ("pluggy._callers", "_multicall"),
    ("pluggy._hooks", "HookCaller.__call__"),
    ("pluggy._manager", "PluginManager._hookexec"),
    ("sys", "__stdout__"),
    ("sys", "__stderr__"),
)
# The hooks through which a test's outcome travels; an implementation registered from the code under test is tamper.
WATCHED_HOOKS = (
    "pytest_runtest_protocol",
    "pytest_runtest_setup",
    "pytest_runtest_call",
    "pytest_runtest_teardown",
    "pytest_runtest_makereport",
    "pytest_runtest_logreport",
    "pytest_report_teststatus",
    "pytest_pyfunc_call",
    "pytest_runtestloop",
    "pytest_collection_modifyitems",
    "pytest_sessionfinish",
)


def resolve(module: str, dotted: str) -> Any:
    """The raw object at module.dotted (class attributes read from `__dict__`, so descriptors stay themselves)."""
    obj: Any = sys.modules.get(module)
    for part in dotted.split("."):
        if obj is None:
            return None
        obj = obj.__dict__.get(part) if isinstance(obj, type) else getattr(obj, part, None)
    return obj


def fingerprint(obj: Any) -> tuple[int, int]:
    """The object's identity and its code's: swapping a function's `__code__` keeps the first, not the second."""
    target = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
    return id(target), id(getattr(target, "__code__", None))


def source_of(obj: Any) -> str:
    target = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
    code = getattr(target, "__code__", None)
    if code is not None:
        return code.co_filename
    return getattr(sys.modules.get(getattr(target, "__module__", "") or ""), "__file__", "") or "?"


def harness_namespaces() -> dict[str, dict[str, Any]]:
    """The functions and classes of concgrade's in-process modules, and the attributes of those classes."""
    found: dict[str, dict[str, Any]] = {}
    for name, module in list(sys.modules.items()):
        if not name.startswith("concgrade.inside") or module is None:
            continue
        members = {key: value for key, value in vars(module).items() if _is_code_holder(value, name)}
        found[name] = members
        for key, value in members.items():
            if isinstance(value, type):
                found[f"{name}.{key}"] = dict(vars(value))
    return found


def _is_code_holder(value: Any, module: str) -> bool:
    """A function or class defined in `module` (what code under test would replace to change behaviour)."""
    return (inspect.isfunction(value) or isinstance(value, type)) and getattr(value, "__module__", None) == module


def faithful(expected: ExpectedCode, value: Any, code: Any, depth: int = 0) -> bool:
    """Whether a collected function's code is what its file compiles to; or, for a wrapper an installed library
    made to look like the test (hypothesis's `@given` gives its wrapper the test's file and line), whether the
    test it wraps is."""
    path = getattr(code, "co_filename", "")
    if code is None or not expected.knows(path) or expected.matches(path, code):
        return True
    inner = wrapped_by_library(value)
    return inner is not None and depth < 8 and faithful(expected, inner, code_of(inner), depth + 1)


def wrapped_by_library(value: Any) -> Any:
    """The test function a decorator of an installed library wraps, or None: hypothesis's `inner_test` (its
    handle's class is hypothesis's), else `__wrapped__` of a wrapper whose module is installed. A wrapper the
    task's or the candidate's own code made stands for itself."""
    function = getattr(value, "__func__", value)
    handle = getattr(function, "hypothesis", None)
    if handle is not None and _installed(getattr(sys.modules.get(type(handle).__module__), "__file__", None)):
        inner = getattr(handle, "inner_test", None)
    elif _installed(getattr(function, "__globals__", {}).get("__file__")):
        inner = getattr(function, "__wrapped__", None)
    else:
        return None
    return inner if inspect.isfunction(inner) else None


def _installed(path: object) -> bool:
    """A file of the standard library or of an installed package (the machine's, read-only to a graded run)."""
    if not isinstance(path, str):
        return False
    real = os.path.realpath(path)
    folders = {sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib", "purelib", "platlib")}
    return any(real.startswith(os.path.join(os.path.realpath(folder), "")) for folder in folders)


def code_of(value: Any) -> Any:
    """A function's code, or the code a probe swapped in place stands for (see disguise.py)."""
    code = getattr(value, "__code__", None)
    return SWAPPED.get(id(code), code) if code is not None else None


def test_function(item: Any) -> Any:
    """The function an item runs: a method's own function, since pytest 7 binds a test method to a new instance
    (a TestCase's, a test class's) for every test, so the bound method is never the one collected."""
    function = getattr(item, "obj", None)
    return getattr(function, "__func__", function)


class TestSnapshot:
    """The tests as collected: each item's function and code object, and its module's functions and classes."""

    __test__ = False

    def __init__(self, items: list[Any], implementation: tuple[str, ...] = ()) -> None:
        self.implementation = implementation  # the implementation's module names (the manifest's `modules`)
        self.items: dict[str, tuple[Any, Any]] = {}
        self.modules: dict[str, dict[str, tuple[Any, Any]]] = {}
        self.imports: dict[str, dict[str, Any]] = {}
        for item in items:
            function = test_function(item)
            self.items[item.nodeid] = (function, code_of(function))
            module = getattr(item, "module", None)
            name = getattr(module, "__name__", None)
            if module is not None and name is not None and name not in self.modules:
                self.modules[name] = self.members(module)
                self.imports[name] = self.imported(module)

    def imported(self, module: Any) -> dict[str, Any]:
        """What a test module names of the implementation (`import notify_service`, `from notify_service import
        f`): what its tests reach the implementation through, kept by identity. One replaced (by a view of the
        implementation that behaves otherwise, say) is a changed test; other imports are the tests' to fake."""
        return {
            key: value
            for key, value in vars(module).items()
            if not key.startswith("__") and self._of_implementation(value)
        }

    def _of_implementation(self, value: Any) -> bool:
        if isinstance(value, types.ModuleType):
            name = getattr(value, "__name__", "")
        elif inspect.isroutine(value) or isinstance(value, type):
            name = getattr(value, "__module__", "") or ""
        else:
            return False
        return isinstance(name, str) and any(name == m or name.startswith(m + ".") for m in self.implementation)

    @staticmethod
    def members(module: Any) -> dict[str, tuple[Any, Any]]:
        """`name` and `Class.attribute` of what the module defines, each with its code object (kept alive)."""
        found: dict[str, tuple[Any, Any]] = {}
        for key, value in vars(module).items():
            if not _is_code_holder(value, module.__name__):
                continue
            found[key] = (value, code_of(value))
            if isinstance(value, type):
                for attribute, member in vars(value).items():
                    target = getattr(member, "__func__", member)
                    if inspect.isfunction(target) or isinstance(member, property):
                        found[f"{key}.{attribute}"] = (member, code_of(target))
        return found

    def unfaithful(self, expected: ExpectedCode) -> list[tuple[str, str]]:
        """(nodeid or module, what) for each collected function whose code is not what its module's file compiles
        to: the module was not made from its file as pytest makes it (its rewriting or its loading was changed)."""
        found = []
        for nodeid, (function, code) in self.items.items():
            path = getattr(code, "co_filename", "")
            if not faithful(expected, function, code):
                found.append((nodeid, f"its code is not what {os.path.basename(path)} compiles to"))
        # The items' modules, and every other module made from a file compiled at the start (conftest files, the
        # tests' helper modules): their functions and methods too.
        modules = dict(self.modules)
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if name not in modules and isinstance(path, str) and expected.knows(path):
                modules[name] = self.members(module)
        for name, members in modules.items():
            for key, (value, code) in members.items():
                path = getattr(code, "co_filename", "")
                if not faithful(expected, value, code):
                    found.append(("", f"{name}.{key}: its code is not what {os.path.basename(path)} compiles to"))
        return found

    def changes(self, item: Any) -> list[str]:
        """What is no longer as collected, for the test about to run."""
        found = []
        original = self.items.get(item.nodeid)
        function = test_function(item)
        if original is not None:
            if function is not original[0]:
                found.append(f"{item.nodeid}: the test function was replaced")
            elif code_of(function) is not original[1]:
                found.append(f"{item.nodeid}: the test function's code object was replaced")
        if "runtest" in vars(item):
            found.append(f"{item.nodeid}: the item's runtest was replaced")
        module = getattr(item, "module", None)
        name = getattr(module, "__name__", None)
        if module is not None and name in self.modules:
            now = self.members(module)
            for key, (value, code) in self.modules[name].items():
                if key not in now:
                    found.append(f"{name}.{key} was removed")
                elif now[key][0] is not value or now[key][1] is not code:
                    found.append(f"{name}.{key} was replaced")
            found += [f"{name}.{key} was added" for key in now if key not in self.modules[name]]
            names = vars(module)
            for key, value in self.imports.get(name, {}).items():
                if key not in names:
                    found.append(f"{name}.{key} (imported) was removed")
                elif names[key] is not value:
                    found.append(f"{name}.{key} (imported) was replaced")
        return found


class RunnerGuard:
    """Snapshots pytest's reporting machinery and reports every change and every report turned into a pass."""

    def __init__(self, report: Callable[[protocol.Record], None], expected: ExpectedCode | None = None) -> None:
        self._report = report
        self._expected = expected
        self._harness = harness_namespaces()
        self._tests: TestSnapshot | None = None
        # Objects are kept alive so that their ids cannot be reused by impostors.
        # What is not imported yet is not watched (it cannot have been replaced before it existed).
        self._objects = {(m, a): resolve(m, a) for m, a in WATCHED if resolve(m, a) is not None}
        self._prints = {key: fingerprint(obj) for key, obj in self._objects.items()}
        self._modules = {name: sys.modules[name] for name in {m for m, _ in WATCHED} if name in sys.modules}
        self._hooks: dict[str, set[tuple[str, int, int]]] = {}
        self._reported: set[str] = set()
        self._inner: dict[tuple[str, str], dict[str, Any]] = {}
        self._config: pytest.Config | None = None

    def _tamper(self, nodeid: str, what: str, source: str = "") -> None:
        if what in self._reported:
            return
        self._reported.add(what)
        self._report(protocol.tamper(nodeid, what, source))

    # -- identities -------------------------------------------------------------------------------
    def check_identities(self, nodeid: str) -> None:
        for name, module in self._modules.items():
            if sys.modules.get(name) is not module:
                self._tamper(nodeid, f"sys.modules[{name!r}] was replaced")
        for key, original in self._prints.items():
            now = resolve(*key)
            if fingerprint(now) != original:
                self._tamper(nodeid, f"{key[0]}.{key[1]} was replaced", source_of(now))
        self.check_harness(nodeid)

    def check_harness(self, nodeid: str) -> None:
        """concgrade's own in-process functions and classes: none replaced, none given a new attribute."""
        now = harness_namespaces()
        for name, members in self._harness.items():
            current = now.get(name, {})
            for key, value in members.items():
                if current.get(key) is not value:
                    self._tamper(nodeid, f"concgrade's {name}.{key} was replaced", source_of(current.get(key)))
            for key in current.keys() - members.keys():
                self._tamper(nodeid, f"concgrade's {name}.{key} was added", source_of(current[key]))

    def hook_implementations(self) -> dict[str, set[tuple[str, int, int]]]:
        assert self._config is not None
        found = {}
        for name in WATCHED_HOOKS:
            caller = getattr(self._config.pluginmanager.hook, name, None)
            impls = caller.get_hookimpls() if caller is not None else []
            found[name] = {(impl.plugin_name, id(impl.function), id(impl.function.__code__)) for impl in impls}
        return found

    def check_hooks(self, nodeid: str) -> None:
        """Report every hook implementation that appeared or changed since the last look, with its file."""
        if self._config is None:
            return
        now = self.hook_implementations()
        for name, impls in now.items():
            for plugin_name, function_id, _code_id in impls - self._hooks.get(name, set()):
                function = self._find_impl(name, function_id)
                source = source_of(function) if function is not None else "?"
                self._report(protocol.hookimpl(nodeid, name, plugin_name, source))
        self._hooks = now

    def _find_impl(self, hook: str, function_id: int) -> Any:
        assert self._config is not None
        for impl in getattr(self._config.pluginmanager.hook, hook).get_hookimpls():
            if id(impl.function) == function_id:
                return impl.function
        return None

    def check(self, nodeid: str) -> None:
        self.check_identities(nodeid)
        self.check_hooks(nodeid)

    # -- hooks ------------------------------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        # What is registered now (pytest's own plugins, installed plugins, the initial conftest files)
        # is the baseline; what appears later is reported with its file.
        self._config = config
        self._hooks = self.hook_implementations()
        self.check_identities("")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._tests = TestSnapshot(list(session.items), _implementation_modules(session.config))
        self.check("")
        if self._expected is not None and not _pass_hook_enabled(session.config):
            for nodeid, what in self._tests.unfaithful(self._expected):
                if what not in self._reported:
                    self._reported.add(what)
                    self._report(protocol.test_changed(nodeid, what))

    def check_test(self, item: pytest.Item) -> None:
        """Right before a test's call: it is the test pytest collected (its code, its item, its module's helpers)."""
        if self._tests is None:
            return
        for what in self._tests.changes(item):
            if what not in self._reported:
                self._reported.add(what)
                self._report(protocol.test_changed(item.nodeid, what))

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Iterator[None]:
        """The innermost wrapper around the test function: sees the exception before anyone can swallow it."""
        self.check_test(item)
        inner = self._inner.setdefault((item.nodeid, "call"), {})
        try:
            return (yield)
        except BaseException as exc:
            inner["raised"] = type(exc).__name__
            raise

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
        """The innermost wrapper around report making: the outcome pytest's own hook produced."""
        inner = self._inner.setdefault((item.nodeid, call.when), {})
        if call.excinfo is not None:
            inner.setdefault("raised", call.excinfo.typename)
        report = yield
        inner["outcome"] = report.outcome
        return report

    def inspect_report(self, report: pytest.TestReport) -> None:
        """Called with the report that reached the end of the hook chain (from the plugin's logreport)."""
        inner = self._inner.pop((report.nodeid, report.when), {})
        if report.outcome == "passed" and (inner.get("raised") or inner.get("outcome", "passed") != "passed"):
            self._tamper(
                report.nodeid,
                f"{report.nodeid}: the {report.when} phase raised {inner.get('raised') or 'nothing'} and pytest "
                f"made it {inner.get('outcome', '?')!r}, but the report that arrived says passed",
            )
        self.check(report.nodeid)


def _pass_hook_enabled(config: pytest.Config) -> bool:
    """An assertion pass hook makes pytest rewrite differently from the boot's compile: then nothing is compared."""
    try:
        return bool(config.getini("enable_assertion_pass_hook"))
    except (ValueError, KeyError):
        return False


def _implementation_modules(config: pytest.Config) -> tuple[str, ...]:
    try:
        return tuple(str(name) for name in config.getoption("--concgrade-module") or ())
    except ValueError:
        return ()
