"""Seeded yields at call boundaries: only in the code under test's folders, replayable by the seed."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from concgrade.inside.call_yields import CallYields, source_folders


@pytest.fixture
def module_under_test(tmp_path: Path) -> ModuleType:
    path = tmp_path / "impl" / "call_yields_target.py"
    path.parent.mkdir()
    path.write_text(
        "def work(values):\n    total = len(values)\n    return helper(total)\n\ndef helper(n):\n    return n + 1\n"
    )
    spec = importlib.util.spec_from_file_location("call_yields_target", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def no_hook_left() -> Iterator[None]:
    yield
    threading.setprofile(None)  # type: ignore[arg-type]


def yields_in_a_thread(yields: CallYields, work: object) -> None:
    """Install, run `work` in a new thread (threads started after install get the hook), uninstall."""
    yields.install()
    try:
        thread = threading.Thread(target=work)  # type: ignore[arg-type]
        thread.start()
        thread.join()
    finally:
        yields.uninstall()


def test_yields_after_calls_return_inside_the_code_under_test(module_under_test: ModuleType) -> None:
    sleeps: list[float] = []
    folder = source_folders(module_under_test.__file__)
    yields = CallYields(seed=1, folders=folder, probability=1.0, sleep=sleeps.append)
    yields_in_a_thread(yields, lambda: module_under_test.work([1, 2, 3]))
    # len() returned inside work, helper returned, work returned: three boundaries, all in the module's folder.
    assert sleeps == [0, 0, 0] and yields.yields == 3


def test_no_yields_outside_those_folders(module_under_test: ModuleType, tmp_path: Path) -> None:
    sleeps: list[float] = []
    yields = CallYields(seed=1, folders=[str(tmp_path / "elsewhere") + "/"], probability=1.0, sleep=sleeps.append)
    yields_in_a_thread(yields, lambda: module_under_test.work([1]))
    assert sleeps == []


def test_the_seed_decides_which_boundaries_yield(module_under_test: ModuleType) -> None:
    def decisions(seed: int) -> list[int]:
        made: list[int] = []
        folder = source_folders(module_under_test.__file__)
        yields = CallYields(seed=seed, folders=folder, probability=0.5, sleep=lambda _s: made.append(1))

        def many() -> None:
            for _ in range(50):
                made.append(0)
                module_under_test.work([1])

        yields_in_a_thread(yields, many)
        return made

    assert decisions(3) == decisions(3)
    assert decisions(3) != decisions(4)
