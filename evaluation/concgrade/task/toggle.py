"""How the implementation is toggled: the environment variables and pytest arguments that select it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# How a task's tests select the implementation (see docs/manifest.md, [toggle]).
TOGGLE_KINDS = ("pythonpath", "env", "option", "selection", "package", "cwd")


@dataclass(frozen=True)
class Toggle:
    """How a test process selects an implementation.

    pythonpath: PYTHONPATH=<folder>; env: a named variable (its value a word or the folder's path);
    option: a pytest option the task's conftest adds (`--repo before`); selection: different test files
    or `-k` per implementation; package: the tests import `repository_after.x` from the task root, and
    each implementation is put in that folder of its scratch copy; cwd: pytest runs from the
    implementation's folder (`cd repository_before && pytest`), with `selection` the arguments of each,
    relative to that folder.
    """

    kind: str = "pythonpath"
    variable: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    pythonpath: bool = False
    option: str | None = None
    selection: dict[str, list[str]] = field(default_factory=dict)
    path_value: bool = False  # kind env: the variable holds the implementation folder's path

    def value(self, name: str, role: str) -> str:
        """The word that selects implementation `name`; a candidate stands in the after folder, so it is after's."""
        return self.values.get(name, self.values.get(role, role))

    def environment(self, name: str, role: str, folder: Path) -> dict[str, str]:
        """Variables that select implementation `name` (whose role is before or after) living in `folder`."""
        env: dict[str, str] = {}
        if self.kind == "pythonpath" or self.pythonpath:
            env["PYTHONPATH"] = str(folder)
        if self.kind == "package":
            env["PYTHONPATH"] = "."  # the task root, where `import repository_after.x` resolves
        if self.kind == "env" and self.variable:
            env[self.variable] = self.path_in(folder, name, role) if self.path_value else self.value(name, role)
        return env

    def path_in(self, folder: Path, name: str, role: str) -> str:
        """A path value (`/app/repository_before/parser.py`) moved into `folder`: what follows the folder's
        name is kept (`<folder>/parser.py`)."""
        value = self.values.get(name, self.values.get(role, ""))
        parts = value.rstrip("/").split("/")
        own = next((index for index, part in enumerate(parts) if part == folder.name), None)
        if own is None:
            return str(folder)
        rest = parts[own + 1 :]
        return str(folder.joinpath(*rest)) if rest else str(folder)

    def pytest_args(self, name: str, role: str) -> list[str]:
        """Extra pytest arguments that select implementation `name`: an option, or its files and `-k`."""
        if self.kind == "option" and self.option:
            return [self.option, self.value(name, role)]
        if self.kind in ("selection", "cwd"):
            return list(self.selection.get(name, self.selection.get(role, [])))
        return []
