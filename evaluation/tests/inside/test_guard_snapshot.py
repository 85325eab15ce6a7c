"""The guard's snapshot of the tests as collected: a method bound anew per test is no replacement, a new one is."""

from __future__ import annotations

import types

from concgrade.inside.guard import TestSnapshot, wrapped_by_library


class Case:
    def test_one(self) -> None:
        pass


class Item:
    """Like a pytest 7 item of a test method: each look at `obj` binds the method to a fresh instance."""

    nodeid = "t.py::Case::test_one"
    module = None

    def __init__(self) -> None:
        self.cls = Case

    @property
    def obj(self) -> object:
        return self.cls().test_one


def test_a_method_bound_to_a_new_instance_for_each_test_is_not_a_replaced_test():
    item = Item()
    assert TestSnapshot([item]).changes(item) == []


def test_a_method_replaced_on_its_class_is_a_replaced_test():
    item = Item()
    snapshot = TestSnapshot([item])
    item.cls = types.new_class("Gutted", (), exec_body=lambda ns: ns.update(test_one=lambda self: None))
    assert snapshot.changes(item) == ["t.py::Case::test_one: the test function was replaced"]


def module_item(module: types.ModuleType) -> object:
    def test_send() -> None:
        pass

    test_send.__module__ = module.__name__
    module.test_send = test_send  # type: ignore[attr-defined]
    return types.SimpleNamespace(nodeid="tests/test_m.py::test_send", module=module, obj=test_send)


def test_the_implementation_a_test_module_imported_replaced_is_a_changed_test():
    service = types.ModuleType("notify_service")
    service.notify_users = lambda users, payload: []  # type: ignore[attr-defined]
    service.notify_users.__module__ = "notify_service"
    tests = types.ModuleType("test_m")
    tests.notify_service = service  # type: ignore[attr-defined]
    tests.notify_users = service.notify_users  # type: ignore[attr-defined]
    item = module_item(tests)
    snapshot = TestSnapshot([item], ("notify_service",))
    assert snapshot.changes(item) == []
    tests.notify_service = types.ModuleType("notify_service")  # a view that behaves otherwise
    del tests.notify_users
    assert snapshot.changes(item) == [
        "test_m.notify_service (imported) was replaced",
        "test_m.notify_users (imported) was removed",
    ]


def test_other_imports_of_a_test_module_are_the_tests_own_to_fake():
    import time

    tests = types.ModuleType("test_m")
    tests.time = time  # type: ignore[attr-defined]
    tests.sleep = time.sleep  # type: ignore[attr-defined]
    item = module_item(tests)
    snapshot = TestSnapshot([item], ("notify_service",))
    tests.time = types.SimpleNamespace(sleep=lambda seconds: None)  # type: ignore[attr-defined]
    tests.sleep = lambda seconds: None  # type: ignore[attr-defined]
    assert snapshot.changes(item) == []


def test_only_a_wrapper_an_installed_library_made_is_looked_through():
    """hypothesis-style wrappers carry the test's file and line with code of their own: the guard compares the test
    they wrap, but only when an installed library made the wrapper (a candidate's own wrapper stands for itself)."""
    import contextlib
    import functools

    def test_original():
        assert True

    made_by_the_stdlib = contextlib.contextmanager(test_original)  # its helper lives in contextlib.py
    assert wrapped_by_library(made_by_the_stdlib) is test_original

    @functools.wraps(test_original)
    def made_here(*args):
        return None

    assert wrapped_by_library(made_here) is None  # this file is no installed package

    class Handle:  # a forged hypothesis handle: its class is not hypothesis's
        inner_test = test_original

    made_here.hypothesis = Handle()
    assert wrapped_by_library(made_here) is None
