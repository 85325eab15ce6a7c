"""Check a task folder before anything runs: layout, manifest, suites, and tests that would mislead a grade."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from concgrade.errors import TaskError
from concgrade.files import IGNORED_DIRS
from concgrade.findings import Finding, Severity
from concgrade.static.lint.fixes import append_suites, ignore_reports, write_instance_lists, write_new_manifest
from concgrade.static.pysource import ParsedSource
from concgrade.static.testscan import (
    defines,
    exit_status_forcing,
    hard_coded_paths,
    report_tampering,
    source_only_tests,
    test_ids,
    timing_assertions,
    tree_writes,
)
from concgrade.task.conventions import missing_test_paths
from concgrade.task.load import load_task
from concgrade.task.manifest import MANIFEST_NAME, unknown_names
from concgrade.task.model import SUITES, is_class_qualified

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

MANIFEST = f"evaluation/{MANIFEST_NAME}"
_SKIP_DIRS = IGNORED_DIRS | {"node_modules", "site-packages", ".tox", ".eggs", ".nox"}
_PINNED = re.compile(r"^[A-Za-z0-9._\[\],-]+\s*===?\s*[^*\s,;]+\s*(;.*)?$")


# What a finding means for a grade: `trust` makes the grade itself untrustworthy (a copy of the implementation
# that can be imported instead of the toggled one, a conftest that rewrites test reports, a task that cannot be
# loaded): an error in every mode. `hygiene` is metadata or layout a dataset submission must get right but that
# the runs do not depend on: a warning in the plain grade, an error under `--gate`. `advice` is a warning and
# `note` is information, in every mode.
Level = Literal["trust", "hygiene", "advice", "note"]


@dataclass(frozen=True)
class LintCheck:
    id: str
    level: Level
    title: str
    fixable: bool = False

    def severity(self, gate: bool, level: Level | None = None) -> Severity:
        return severity_of(level or self.level, gate)


def severity_of(level: Level, gate: bool) -> Severity:
    if level == "trust" or (level == "hygiene" and gate):
        return "error"
    return "info" if level == "note" else "warning"


CHECKS: dict[str, LintCheck] = {
    c.id: c
    for c in (
        LintCheck("CL001", "hygiene", "a required folder or file is missing"),
        LintCheck("CL002", "hygiene", "trajectory/ has no Markdown file"),
        LintCheck("CL003", "advice", "an implementation folder has no Python file (before: a greenfield task)"),
        LintCheck("CL010", "advice", "no manifest and no instances/*.json: suites will only be inferred"),
        LintCheck("CL011", "note", "no manifest: suites come from instances/*.json", fixable=True),
        LintCheck("CL012", "trust", "the manifest is not valid TOML"),
        LintCheck("CL013", "trust", "the manifest's structure is invalid (e.g. no [suites])", fixable=True),
        LintCheck("CL014", "trust", "the manifest has an unknown table or key (a typo would switch nothing on)"),
        LintCheck("CL015", "hygiene", "a suite entry names a test file or node id that does not exist"),
        LintCheck("CL016", "hygiene", "FAIL_TO_PASS is empty: nothing grades the task"),
        LintCheck("CL017", "hygiene", "a documented test command names a test file or folder that does not exist"),
        LintCheck("CL019", "trust", "the task loader rejects the task"),
        LintCheck("CL020", "hygiene", "an instances file is not valid JSON"),
        LintCheck("CL021", "hygiene", "an instances file has no FAIL_TO_PASS / PASS_TO_PASS lists"),
        LintCheck("CL022", "hygiene", "the last grade's runs contradict the instances file", fixable=True),
        LintCheck("CL030", "trust", "a test file does not parse"),
        LintCheck("CL040", "trust", "a copy of an implementation module outside the implementation folders"),
        LintCheck("CL050", "trust", "a conftest rewrites test reports"),
        LintCheck("CL051", "hygiene", "a conftest forces pytest's exit status (the grade reads per-test outcomes)"),
        LintCheck("CL060", "hygiene", "a test hard-codes one implementation folder, bypassing the toggle"),
        LintCheck("CL061", "advice", "a test hard-codes an /app path"),
        LintCheck("CL070", "advice", "a test only reads the implementation's source text"),
        LintCheck("CL071", "advice", "a test asserts on measured time (it may flip on a loaded machine)"),
        LintCheck("CL080", "advice", "an unpinned dependency in a requirements file"),
        LintCheck("CL090", "advice", "a test writes into the task tree"),
        LintCheck("CL095", "note", "reports/ is not ignored by git", fixable=True),
    )
}


def lint_task(
    root: Path,
    *,
    fix: bool = False,
    check_loader: bool = True,
    reports_ignored: bool | None = None,
    gate: bool = False,
    observed: dict[str, Any] | None = None,
) -> list[Finding]:
    """Every finding for the task at `root`; with `fix`, apply safe derived fixes, then check again.

    Fixed findings come first, marked `fixed`; a fix never deletes or overwrites a user's file.
    `check_loader=False` when the caller has loaded the task already (a grade): it is not loaded again.
    `reports_ignored` is git's answer for reports/ (`git check-ignore`, asked by the caller: linting starts
    no process); None where git cannot say, and then the task's own .gitignore files decide.
    `gate`: the levels of `--gate`, where hygiene findings are errors (see Level). `observed` is the
    `instances` section of the task's last results.json: where its runs contradict the instances file,
    CL022 says so and `fix` writes the lists the runs showed.
    """
    root = Path(root)
    if not root.is_dir():
        return [Finding("CL001", "error", f"{root}: not a folder", None)]
    linter = _Linter(root, check_loader, reports_ignored, gate, observed)
    findings = linter.run()
    if not fix or not linter.fixes:
        return findings
    fixed = [replace(finding, fixed=True) for finding, apply in linter.fixes if apply()]
    return fixed + _Linter(root, reports_ignored=reports_ignored, gate=gate).run() if fixed else findings


# --- the checks -----------------------------------------------------------------------------------


class _Linter:
    """One pass over a task folder; collects findings and the fixes it could apply."""

    def __init__(
        self,
        root: Path,
        check_loader: bool = True,
        reports_ignored: bool | None = None,
        gate: bool = False,
        observed: dict[str, Any] | None = None,
    ) -> None:
        self.root = root
        self.check_loader = check_loader
        self.reports_ignored = reports_ignored
        self.gate = gate
        self.observed = observed
        self.findings: list[Finding] = []
        self.fixes: list[tuple[Finding, Callable[[], bool]]] = []
        self._ids: dict[str, set[str] | None] = {}
        self._parsed: dict[str, ParsedSource | None] = {}
        self._errors: dict[str, Exception] = {}
        self._manifest_text = ""

    def add(
        self,
        check_id: str,
        message: str,
        path: str | None,
        line: int | None = None,
        *,
        fix: Callable[[], bool] | None = None,
        level: Level | None = None,
    ) -> Finding:
        check = CHECKS[check_id]
        severity = check.severity(self.gate, level)
        finding = Finding(check_id, severity, message, path, line, fixable=fix is not None)
        self.findings.append(finding)
        if fix is not None:
            self.fixes.append((finding, fix))
        return finding

    def run(self) -> list[Finding]:
        manifest = self._manifest()
        instances = self._instances()
        implementations = self._layout(manifest)
        self._test_files()
        self._documented_paths(manifest)
        self._suites(manifest, instances)
        self._observed_instances()
        modules = self._modules(implementations, manifest)
        self._shadows(modules, implementations)
        self._conftests()
        self._test_behaviour(modules)
        self._requirements()
        self._reports()
        if self.check_loader and not any(f.severity == "error" for f in self.findings):
            self._loader()
        return self.findings

    # layout

    def _layout(self, manifest: dict | None) -> list[Path]:
        declared = (manifest or {}).get("implementations", {})
        declared = declared if isinstance(declared, dict) else {}
        implementations = []
        for role in ("before", "after"):
            relative = str(declared.get(role, f"repository_{role}"))
            folder = self.root / relative
            greenfield = role == "before" and role not in declared  # a task written from scratch
            if not folder.is_dir():
                message = f"missing {role} implementation folder {relative}/"
                if greenfield:
                    message += ": a greenfield task (before has nothing to import)"
                self.add("CL001", message, relative, level="note" if greenfield else "trust")
                continue
            implementations.append(folder)
            if not any(_python_files(folder)):
                if greenfield:
                    message = f"{relative}/ has no Python file: a greenfield task (before has nothing to import)"
                    self.add("CL003", message, relative, level="note")
                else:
                    self.add("CL003", f"{relative}/ has no Python file", relative)
        for name in ("tests", "trajectory"):
            if not (self.root / name).is_dir():
                self.add("CL001", f"missing folder {name}/", name, level="trust" if name == "tests" else None)
        if (self.root / "trajectory").is_dir() and not any((self.root / "trajectory").rglob("*.md")):
            self.add("CL002", "trajectory/ has no .md file describing how the refactor was made", "trajectory")
        for name in ("README.md", "Dockerfile"):
            if not (self.root / name).is_file():
                self.add("CL001", f"missing file {name}", name)
        return implementations

    # manifest and instances

    def _manifest(self) -> dict | None:
        path = self.root / MANIFEST
        if not path.is_file():
            return None
        try:
            text = path.read_bytes().decode("utf-8")
            data = tomllib.loads(text)
        except UnicodeDecodeError as exc:
            self.add("CL012", f"not UTF-8 text ({exc.reason})", MANIFEST)
            return None
        except tomllib.TOMLDecodeError as exc:
            line = re.search(r"at line (\d+)", str(exc))
            self.add("CL012", f"invalid TOML: {exc}", MANIFEST, int(line.group(1)) if line else None)
            return None
        self._manifest_text = text
        for name, hint in unknown_names(data):
            kind = "table" if name.startswith("[") else "key"
            needle = name.strip("[]") if kind == "table" else name.split(".", 1)[1]
            self.add("CL014", f"unknown {kind} {name}{hint}", MANIFEST, self._line(needle))
        return data

    def _instances(self) -> list[tuple[str, dict[str, list[str]]]]:
        """Valid instance objects as (file, suites); invalid files are reported and skipped."""
        found = []
        for path in sorted((self.root / "instances").glob("*.json")):
            relative = path.relative_to(self.root).as_posix()
            try:
                data = json.loads(path.read_bytes().decode("utf-8"))
            except UnicodeDecodeError as exc:
                self.add("CL020", f"not UTF-8 text ({exc.reason})", relative)
                continue
            except json.JSONDecodeError as exc:
                self.add(
                    "CL020", f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", relative, exc.lineno
                )
                continue
            objects = data if isinstance(data, list) else [data]
            for index, item in enumerate(objects):
                suites = self._instance_suites(item, relative, index if isinstance(data, list) else None)
                if suites is not None:
                    found.append((relative, suites))
        return found

    def _instance_suites(self, item: object, relative: str, index: int | None) -> dict[str, list[str]] | None:
        where = f"instance {index}: " if index is not None else ""
        if not isinstance(item, dict):
            self.add("CL021", f"{where}expected an object with FAIL_TO_PASS and PASS_TO_PASS", relative)
            return None
        suites = {}
        for name in SUITES:
            entries = item.get(name)
            if isinstance(entries, str):  # SWE-bench keeps the lists as JSON text inside the JSON
                try:
                    entries = json.loads(entries)
                except json.JSONDecodeError:
                    entries = None
            if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
                self.add("CL021", f"{where}{name} is missing or not a list of test ids", relative)
                return None
            suites[name] = entries
        return suites

    def _suites(self, manifest: dict | None, instances: list[tuple[str, dict[str, list[str]]]]) -> None:
        for relative, suites in instances:
            self._check_entries(suites, relative, from_instances=True)
        derived = self._derived_suites(instances)
        if manifest is not None:
            self._manifest_suites(manifest, derived)
        elif (self.root / MANIFEST).is_file():
            return  # present but unreadable: already reported
        elif instances:
            fix = (lambda: write_new_manifest(self.root, *derived)) if derived else None
            self.add(
                "CL011",
                f"no {MANIFEST}; the suites come from {instances[0][0]}",
                MANIFEST,
                fix=fix,
            )
        elif not list((self.root / "instances").glob("*.json")):
            self.add("CL010", f"no {MANIFEST} and no instances/*.json: the suites will be inferred from runs", None)

    def _observed_instances(self) -> None:
        """What the last grade's runs showed against the instances file: the corrected lists, fixable."""
        observed = self.observed or {}
        relative, corrected = observed.get("file"), observed.get("corrected")
        problems = [f for f in observed.get("findings", []) if f.get("id") != "instances.missing"]
        if not relative or not isinstance(corrected, dict) or not problems or not (self.root / relative).exists():
            return
        lists = {name: [str(n) for n in corrected.get(name, [])] for name in SUITES}
        counts = ", ".join(f"{len(lists[name])} {name}" for name in SUITES)
        message = f"the last grade's runs contradict it ({problems[0].get('message', '')}); they show {counts}"
        self.add("CL022", message, relative, fix=lambda: write_instance_lists(self.root, relative, lists))

    def _manifest_suites(self, manifest: dict, derived: tuple[dict[str, list[str]], str] | None) -> None:
        suites = manifest.get("suites")
        if suites is None:
            fix = (lambda: append_suites(self.root, *derived)) if derived else None
            self.add("CL013", "no [suites] table (PASS_TO_PASS and FAIL_TO_PASS lists)", MANIFEST, fix=fix)
            return
        if not isinstance(suites, dict):
            self.add("CL013", "suites must be a table", MANIFEST)
            return
        for name in sorted(set(suites) - set(SUITES)):
            self.add("CL013", f"unknown suite {name!r}; use {' / '.join(SUITES)}", MANIFEST, self._line(name))
        clean = {}
        for name in SUITES:
            entries = suites.get(name, [])
            if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
                self.add("CL013", f"suites.{name} must be a list of test files or node ids", MANIFEST, self._line(name))
                return
            clean[name] = entries
        self._check_entries(clean, MANIFEST, from_instances=False)
        task = manifest.get("task", {})
        modules = task.get("modules", []) if isinstance(task, dict) else None
        if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
            self.add("CL013", "task.modules must be a list of module names", MANIFEST, self._line("modules"))

    def _check_entries(self, suites: dict[str, list[str]], source: str, *, from_instances: bool) -> None:
        """Entries that name nothing (one finding per suite, with a count), and an empty FAIL_TO_PASS.

        A manifest's suites are what a grade runs: wrong entries there are errors. An instances file is
        metadata the plain grade only audits (it grades what the runs show): hygiene.
        """
        level: Level = "hygiene" if from_instances else "trust"
        for name in SUITES:
            missing = [
                entry for entry in suites.get(name, []) if not self._resolve(entry, from_instances=from_instances)
            ]
            if missing:
                shown = ", ".join(repr(entry) for entry in missing[:3])
                more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
                count = f"{len(missing)} {name} entries name" if len(missing) > 1 else f"{name} entry"
                message = f"{count} no existing test file or test: {shown}{more}"
                self.add("CL015", message, source, self._line(missing[0], source), level=level)
        if not suites.get("FAIL_TO_PASS"):
            message = "FAIL_TO_PASS is empty: no test shows that the refactor fixed anything"
            self.add("CL016", message, source, level=level)

    def _derived_suites(self, instances: list) -> tuple[dict[str, list[str]], str] | None:
        """Suites of the one instance as full node ids, when every entry resolves to exactly one test."""
        if len(instances) != 1:
            return None
        relative, suites = instances[0]
        derived = {}
        for name in SUITES:
            resolved = [self._resolve(entry, from_instances=True) for entry in suites[name]]
            if any(len(ids) != 1 for ids in resolved):
                return None
            derived[name] = [ids[0] for ids in resolved]
        return (derived, relative) if derived["FAIL_TO_PASS"] else None

    def _line(self, needle: str, source: str = MANIFEST) -> int | None:
        text = self._manifest_text if source == MANIFEST else _read(self.root / source)
        for number, line in enumerate(text.splitlines(), 1):
            if needle in line:
                return number
        return None

    # test files and node ids

    def _test_files(self) -> None:
        for path in _python_files(self.root / "tests"):
            relative = path.relative_to(self.root).as_posix()
            if self._parse(relative) is None:
                exc = self._errors.get(relative)
                self.add("CL030", f"cannot parse: {exc}", relative, getattr(exc, "lineno", None))

    def _parse(self, relative: str) -> ParsedSource | None:
        if relative not in self._parsed:
            try:
                self._parsed[relative] = ParsedSource.parse(relative, (self.root / relative).read_bytes().decode())
            except (SyntaxError, ValueError, RecursionError, OSError) as exc:
                self._parsed[relative] = None
                self._errors[relative] = exc
        return self._parsed[relative]

    def _ids_of(self, relative: str) -> set[str] | None:
        if relative not in self._ids:
            parsed = self._parse(relative)
            self._ids[relative] = test_ids(parsed.tree) if parsed else None
        return self._ids[relative]

    def _resolve(self, entry: str, *, from_instances: bool) -> list[str]:
        """Full ids (or paths) an entry names; instances may also use bare names and tests/-relative paths."""
        entry = entry.replace("\\", "/").strip()
        path, sep, rest = entry.partition("::")
        candidates = [path]
        if from_instances and not path.startswith("tests/"):
            candidates.append(f"tests/{path}")
        for candidate in candidates:
            target = self.root / candidate
            if not candidate or not _inside(self.root, target):
                continue
            if not sep and target.exists():
                return [candidate]
            if sep and target.is_file():
                ids = self._ids_of(candidate)
                if ids is None or defines(ids, _strip_params(rest)):
                    return [f"{candidate}::{rest}"]  # an unparsable file is reported once, as CL030
        if from_instances and not sep and "/" not in path and not path.endswith(".py"):
            return self._bare(path)
        if from_instances and is_class_qualified(entry):  # `TestFoo::test_bar`, without its file
            return self._bare(entry)
        return []

    def _bare(self, name: str) -> list[str]:
        bare = _strip_params(name)
        found = []
        for path in _python_files(self.root / "tests"):
            relative = path.relative_to(self.root).as_posix()
            if not (path.name.startswith("test_") or path.stem.endswith("_test")):
                continue
            for suffix in sorted(self._ids_of(relative) or ()):
                if suffix == bare or suffix.endswith("::" + bare):
                    found.append(f"{relative}::{suffix}{name[len(bare) :]}")
        return found

    # implementation modules and their shadows

    def _modules(self, implementations: list[Path], manifest: dict | None) -> set[str]:
        modules: set[str] = set()
        for folder in implementations:
            for entry in folder.iterdir():
                if entry.suffix == ".py" and entry.stem not in ("__init__", "conftest", "setup"):
                    modules.add(entry.stem)
                elif entry.is_dir() and (entry / "__init__.py").is_file():
                    modules.add(entry.name)
        task = (manifest or {}).get("task", {})
        declared = task.get("modules", []) if isinstance(task, dict) else []
        modules |= {str(m).split(".")[0] for m in declared if isinstance(declared, list)}
        return modules

    def _shadows(self, modules: set[str], implementations: list[Path]) -> None:
        if not modules:
            return
        skip = {folder.resolve() for folder in implementations}
        for directory, dirs, files in os.walk(self.root):
            here = Path(directory)
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and (here / d).resolve() not in skip]
            for name in sorted([*files, *dirs]):
                stem = name[:-3] if name.endswith(".py") else name
                is_module = name.endswith(".py") or (here / name / "__init__.py").is_file()
                if stem in modules and is_module:
                    self._shadow(here / name, stem)

    def _shadow(self, path: Path, module: str) -> None:
        relative = path.relative_to(self.root)
        if relative.as_posix() == "tests":
            return  # the task's own test package, beside an implementation that holds a `tests` package of its own
        # The task root (the working directory) and test folders (pytest's rootdir insertion) precede PYTHONPATH.
        on_path = len(relative.parts) == 1 or relative.parts[0] == "tests"
        self.add(
            "CL040",
            f"a copy of implementation module {module!r} outside the implementation folders"
            + (": it can be imported instead of the toggled one" if on_path else ""),
            relative.as_posix(),
            level="trust" if on_path else "advice",
        )

    # what the tests do

    def _conftests(self) -> None:
        paths = [self.root / "conftest.py", *sorted((self.root / "tests").rglob("conftest.py"))]
        for path in paths:
            if not path.is_file():
                continue
            relative = path.relative_to(self.root).as_posix()
            parsed = self._parse(relative)
            for hit in report_tampering(parsed) if parsed else ():
                self.add("CL050", f"{hit.message}: the grade would not reflect the tests", relative, hit.line)
            for hit in exit_status_forcing(parsed) if parsed else ():
                message = f"{hit.message}: the task's own CI cannot fail; concgrade grades by per-test outcomes"
                self.add("CL051", message, relative, hit.line)

    def _test_behaviour(self, modules: set[str]) -> None:
        for path in _python_files(self.root / "tests"):
            relative = path.relative_to(self.root).as_posix()
            parsed = self._parse(relative)
            if parsed is None:
                continue
            pinned, app = hard_coded_paths(parsed.tree)
            for hit in pinned:
                self.add("CL060", f"hard-codes {hit.message!r}: the toggle cannot switch it", relative, hit.line)
            for hit in app:
                self.add("CL061", f"hard-codes {hit.message!r}: works only inside the container", relative, hit.line)
            for hit in source_only_tests(parsed, modules):
                self.add(
                    "CL070",
                    f"{hit.message} reads the implementation's source text and never calls it",
                    relative,
                    hit.line,
                )
            for hit in timing_assertions(parsed):
                message = f"{hit.message} asserts on a clock reading: a loaded machine may flip it (graded alone)"
                self.add("CL071", message, relative, hit.line)
            for hit in tree_writes(parsed):
                self.add("CL090", f"writes into the task tree: {hit.message}; use tmp_path", relative, hit.line)

    def _requirements(self) -> None:
        for folder in (self.root, self.root / "tests", self.root / "evaluation"):
            for path in sorted(folder.glob("requirements*.txt")):
                relative = path.relative_to(self.root).as_posix()
                for number, requirement in _unpinned(_read(path)):
                    self.add("CL080", f"{requirement!r} is not pinned with ==", relative, number)

    def _documented_paths(self, manifest: dict | None) -> None:
        """Without a manifest the grade runs what the documented commands run: a path they name that is not
        there makes the task's own command fail, and the grade run the tests that exist instead."""
        if manifest is not None:
            return
        for where, path in missing_test_paths(self.root):
            located = re.match(r"([^:\s]+)(?::(\d+))?", where)
            source, line = (located.group(1), located.group(2)) if located else (where, None)
            message = f"the documented command runs {path}, which does not exist (pytest stops: no tests ran)"
            self.add("CL017", message, source, int(line) if line else None)

    def _reports(self) -> None:
        reports = self.root / "reports"
        if not reports.is_dir() or (reports / ".gitignore").exists() or self.reports_ignored:
            return
        ignore = {line.strip().strip("/") for line in _read(self.root / ".gitignore").splitlines()}
        if self.reports_ignored is False or not ({"reports", "reports/*", "reports/**"} & ignore):
            self.add(
                "CL095", "reports/ would be committed with the task", "reports", fix=lambda: ignore_reports(reports)
            )

    def _loader(self) -> None:
        try:
            load_task(self.root)
        except TaskError as exc:
            self.add("CL019", str(exc), None)


# --- small helpers -----------------------------------------------------------------------------


def _python_files(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*.py")):
        if not any(part in _SKIP_DIRS for part in path.relative_to(folder).parts):
            yield path


def _inside(root: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


def _strip_params(name: str) -> str:
    """`test_a[1-x]` -> `test_a`: parameter ids may contain anything, even `::`."""
    return name[: name.index("[")] if name.endswith("]") and "[" in name else name


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _unpinned(text: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(text.splitlines(), 1):
        requirement = raw.split(" #", 1)[0].strip().rstrip("\\").strip()  # `pkg==1 \` continues with --hash
        if not requirement or requirement.startswith(("#", "-", ".", "/")) or "://" in requirement:
            continue  # options (-r, -e, --hash), paths and URLs are not version specifiers
        if " @ " in requirement:
            continue  # a direct reference names one artifact
        if not _PINNED.match(requirement):
            yield number, requirement
