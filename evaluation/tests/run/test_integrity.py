"""Digests of what runs must not change, and files that would hook into pytest."""

from __future__ import annotations

from taskfactory import make_task, write_files

from concgrade.files import changes
from concgrade.run.integrity import harness_hook_files, protected_digest, tree_digest


def test_protected_files_are_tests_conftests_pytest_config_and_the_manifest(tmp_path):
    task = make_task(tmp_path / "task", extra={"repository_after/conftest.py": "", "pytest.ini": "[pytest]\n"})
    protected = protected_digest(task)
    assert set(protected) == {
        "tests/test_p2p.py",
        "tests/test_f2p.py",
        "repository_after/conftest.py",
        "pytest.ini",
        "evaluation/concgrade.toml",
    }


def test_changes_name_what_was_added_removed_or_modified(tmp_path):
    task = make_task(tmp_path / "task")
    before = protected_digest(task)
    (task / "tests" / "test_p2p.py").write_text("def test_nothing():\n    pass\n")
    (task / "tests" / "test_f2p.py").unlink()
    write_files(task, {"tests/conftest.py": "import pytest\n"})
    assert changes(before, protected_digest(task)) == [
        "tests/conftest.py (added)",
        "tests/test_f2p.py (removed)",
        "tests/test_p2p.py (modified)",
    ]


def test_tree_digest_sees_symlinks_and_skips_ignored_folders(tmp_path):
    write_files(tmp_path, {"a.py": "x = 1\n", "__pycache__/a.cpython-311.pyc": "junk", "reports/results.json": "{}"})
    (tmp_path / "link.py").symlink_to("a.py")
    assert set(tree_digest(tmp_path)) == {"a.py", "link.py"}
    assert tree_digest(tmp_path)["link.py"] == "symlink:a.py"


def test_harness_hook_files_are_found_in_an_implementation(tmp_path):
    write_files(
        tmp_path,
        {
            "counter.py": "",
            "conftest.py": "",
            "sitecustomize.py": "",
            "evil.pth": "import os",
            "_pytest/runner.py": "",
            "pkg/helpers.py": "",
        },
    )
    assert sorted(harness_hook_files(tmp_path)) == ["_pytest/runner.py", "conftest.py", "evil.pth", "sitecustomize.py"]
