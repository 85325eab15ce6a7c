"""The guard's snapshot of the tests as collected: a method bound anew per test is no replacement, a new one is."""

from __future__ import annotations

import types

from concgrade.inside.guard import TestSnapshot


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
