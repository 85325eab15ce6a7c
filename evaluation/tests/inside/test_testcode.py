"""The code a test file compiles to, made before task code runs: a module made otherwise is told apart."""

from __future__ import annotations

import ast
import importlib.util
import re
import textwrap
from pathlib import Path
from types import ModuleType

from _pytest.assertion.rewrite import _rewrite_test

from concgrade.inside.testcode import ExpectedCode, collectable_files

TESTS = '''
"""A test module with a helper class, a nested function and a rewritten assert."""

LIMIT = 50


class Board:
    def reaches(self, value):
        return value >= LIMIT


def test_limit():
    board = Board()
    assert board.reaches(LIMIT), "never reached"

    def inner():
        assert LIMIT == 50

    inner()
'''


def write_tests(root: Path, text: str = TESTS, name: str = "test_limits.py") -> Path:
    path = root / "tests" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def module_from(code: object, path: Path) -> ModuleType:
    module = ModuleType(path.stem)
    module.__file__ = str(path)
    exec(code, vars(module))  # noqa: S102 - the test's own module, built the way a loader builds it
    return module


def codes_of(module: ModuleType) -> list[object]:
    return [module.test_limit.__code__, module.Board.reaches.__code__]


def test_a_module_pytest_rewrote_from_its_file_matches(tmp_path):
    path = write_tests(tmp_path)
    expected = ExpectedCode(str(tmp_path))
    _stat, code = _rewrite_test(path, None)  # what pytest's import hook runs for a test module
    module = module_from(code, path)
    assert all(expected.matches(str(path), inner) for inner in codes_of(module))


def test_a_module_imported_plainly_from_its_file_matches(tmp_path):
    path = write_tests(tmp_path, name="helpers_test.py")
    expected = ExpectedCode(str(tmp_path))
    spec = importlib.util.spec_from_file_location("helpers_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert all(expected.matches(str(path), inner) for inner in codes_of(module))


def test_a_module_whose_file_asks_not_to_be_rewritten_matches(tmp_path):
    path = write_tests(tmp_path, '"""PYTEST_DONT_REWRITE"""\n' + TESTS)
    expected = ExpectedCode(str(tmp_path))
    module = module_from(_rewrite_test(path, None)[1], path)
    assert expected.matches(str(path), module.test_limit.__code__)


def test_asserts_made_true_as_the_file_is_read_do_not_match(tmp_path):
    path = write_tests(tmp_path)
    expected = ExpectedCode(str(tmp_path))
    gutted = re.sub(r"(?m)^(\s*)assert ", r"\1assert True or ", path.read_text())
    module = module_from(compile(gutted, str(path), "exec", dont_inherit=True), path)
    assert not expected.matches(str(path), module.test_limit.__code__)
    assert expected.matches(str(path), module.Board.reaches.__code__)  # untouched code still matches


def test_asserts_removed_from_the_tree_before_rewriting_do_not_match(tmp_path):
    path = write_tests(tmp_path)
    expected = ExpectedCode(str(tmp_path))
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        for field in ("body",):
            body = getattr(node, field, None)
            if isinstance(body, list):
                body[:] = [ast.copy_location(ast.Pass(), s) if isinstance(s, ast.Assert) else s for s in body]
    module = module_from(compile(tree, str(path), "exec", dont_inherit=True), path)
    assert not expected.matches(str(path), module.test_limit.__code__)


def test_a_helper_method_changed_in_the_text_does_not_match(tmp_path):
    path = write_tests(tmp_path)
    expected = ExpectedCode(str(tmp_path))
    changed = path.read_text().replace("return value >= LIMIT", "return True")
    module = module_from(compile(changed, str(path), "exec", dont_inherit=True), path)
    assert not expected.matches(str(path), module.Board.reaches.__code__)


def test_a_file_not_compiled_at_the_start_is_not_judged(tmp_path):
    expected = ExpectedCode(str(tmp_path))
    path = write_tests(tmp_path)  # written after the start: nothing to compare with
    module = module_from(compile("def test_limit():\n    pass\n", str(path), "exec"), path)
    assert not expected.knows(str(path)) and expected.matches(str(path), module.test_limit.__code__)


def test_the_files_compiled_are_the_test_files_under_the_paths_pytest_is_given(tmp_path):
    write_tests(tmp_path)
    write_tests(tmp_path, name="conftest.py")
    write_tests(tmp_path, name="helpers.py")
    other = tmp_path / "other" / "test_other.py"
    other.parent.mkdir()
    other.write_text("def test_other():\n    pass\n")
    venv = tmp_path / ".venv" / "test_vendored.py"
    venv.parent.mkdir()
    venv.write_text("def test_vendored():\n    pass\n")
    (tmp_path / "service.py").write_text("def send():\n    pass\n")
    named = sorted(Path(p).name for p in collectable_files(str(tmp_path), ["tests", "-q", "--timeout=3"]))
    assert named == ["conftest.py", "helpers.py", "test_limits.py"]  # a module in tests/ is the tests' helper
    everything = sorted(Path(p).name for p in collectable_files(str(tmp_path), ["-q"]))
    assert everything == ["conftest.py", "helpers.py", "test_limits.py", "test_other.py"]
    one = [Path(p).name for p in collectable_files(str(tmp_path), ["other/test_other.py::test_other"])]
    assert one == ["test_other.py"]
