"""The operator catalogue and generate_mutants: ids, compiling and distinct mutants, content addresses, texts."""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from concgrade.static.mutants import (
    NOT_APPLICABLE,
    applicability,
    find_operator,
    generate_mutants,
    limit_mutants,
    mutant_id,
    operator_catalog,
)
from concgrade.static.mutants.model import Edit, Mutation, Operator
from concgrade.static.pysource import ParsedSource

REPO = Path(__file__).resolve().parents[3]
AFTERS = [REPO / "repository_after", *sorted(REPO.glob("examples/*/repository_after"))]

POOL = "from concurrent.futures import ThreadPoolExecutor\n\nPOOL = ThreadPoolExecutor(max_workers=2)\n"


def sources_of(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*.py"))}


def test_operator_ids_are_unique_codes_with_a_name():
    ids = [op.id for op in operator_catalog()]
    assert len(set(ids)) == len(ids)
    assert len({op.code for op in operator_catalog()}) == len(ids)
    assert all(re.fullmatch(r"CM[1-8]\d\d-[a-z0-9]+(-[a-z0-9]+)*", op_id) for op_id in ids), ids


def test_every_operator_says_what_it_does_and_what_it_breaks_in_one_line():
    for op in operator_catalog():
        assert op.description and "\n" not in op.description, op.id
        assert op.requirement and "\n" not in op.requirement, op.id


def test_operators_are_found_by_id_or_code():
    assert find_operator("CM101") is find_operator("CM101-sequentialize-executor") is not None
    assert find_operator("CM999") is None
    assert find_operator("sequentialize-executor") is None


@pytest.mark.parametrize("after", AFTERS, ids=lambda p: p.parent.name)
def test_every_mutant_of_a_real_after_compiles_differs_and_changes_only_its_region(after):
    sources = sources_of(after)
    mutants = generate_mutants(sources)
    assert mutants
    for mutant in mutants:
        compile(mutant.source, mutant.file, "exec", dont_inherit=True)
        assert ast.dump(ast.parse(mutant.source)) != ast.dump(ast.parse(sources[mutant.file])), mutant.id
        # Spliced, not reformatted: the diff is the change, and comments elsewhere stay.
        changed = [line for line in mutant.diff().splitlines()[2:] if line[:1] in "+-"]
        assert 0 < len(changed) < 60, (mutant.id, len(changed))


def test_mutants_come_by_file_then_operator_then_line():
    sources = {"b.py": POOL, "a.py": POOL + "\n\ndef more():\n    return ThreadPoolExecutor(max_workers=3)\n"}
    keys = [(m.file, m.operator, m.line) for m in generate_mutants(sources)]
    assert keys == sorted(keys)
    assert {m.file for m in generate_mutants(sources)} == {"a.py", "b.py"}


def test_files_that_are_not_python_or_do_not_parse_make_no_mutant():
    assert generate_mutants({"notes.txt": POOL, "broken.py": "def f(:\n", "nul.py": "x = 1\x00\n"}) == []


def test_a_mutant_is_the_after_folder_with_its_one_file_replaced():
    sources = {"pool.py": POOL, "other.py": "VALUE = 1\n"}
    (mutant,) = generate_mutants(sources, [find_operator("CM103")])
    assert mutant.files() == {"pool.py": POOL.replace("max_workers=2", "max_workers=1")}
    assert {**sources, **mutant.files()}["other.py"] == "VALUE = 1\n"


def test_a_mutant_diff_is_a_unified_diff_of_its_file():
    (mutant,) = generate_mutants({"pool.py": POOL}, [find_operator("CM103")])
    assert mutant.diff() == "".join(
        difflib.unified_diff(POOL.splitlines(True), mutant.source.splitlines(True), "a/pool.py", "b/pool.py")
    )
    assert "-POOL = ThreadPoolExecutor(max_workers=2)\n+POOL = ThreadPoolExecutor(max_workers=1)\n" in mutant.diff()


def test_a_mutant_id_is_the_address_of_its_operator_place_and_text():
    (mutant,) = generate_mutants({"pool.py": POOL}, [find_operator("CM103")])
    source_hash = hashlib.sha256(mutant.source.encode()).hexdigest()
    key = json.dumps(["CM103-single-worker", "pool.py", 3, source_hash], separators=(",", ":"))
    assert mutant.id == "CM103-" + hashlib.sha256(key.encode()).hexdigest()[:12]
    assert mutant_id("CM103-single-worker", "pool.py", 3, mutant.source) == mutant.id


def test_the_same_mutant_gets_the_same_id_and_a_different_one_another():
    (first,) = generate_mutants({"pool.py": POOL}, [find_operator("CM103")])
    (again,) = generate_mutants({"pool.py": POOL}, [find_operator("CM103")])
    (moved,) = generate_mutants({"other/pool.py": POOL}, [find_operator("CM103")])
    (changed,) = generate_mutants({"pool.py": "# a comment\n" + POOL}, [find_operator("CM103")])
    assert first.id == again.id
    assert len({first.id, moved.id, changed.id}) == 3


def _operator(find: Callable[[ParsedSource], Iterator[Mutation]]) -> Operator:
    return Operator("CM999-test", "a test operator", "a test requirement", find)


def test_a_mutation_that_changes_nothing_is_dropped():
    def same(parsed: ParsedSource) -> Iterator[Mutation]:
        call = next(n for n in parsed.nodes if isinstance(n, ast.Call))
        yield Mutation(
            call.lineno, "the same call", (Edit(call, (ast.parse("ThreadPoolExecutor(max_workers=2)").body[0].value,)),)
        )

    assert generate_mutants({"pool.py": POOL}, [_operator(same)]) == []


def test_a_mutation_that_does_not_compile_is_dropped():
    def outside(parsed: ParsedSource) -> Iterator[Mutation]:
        statement = parsed.tree.body[-1]
        yield Mutation(
            statement.lineno, "await outside a coroutine", (Edit(statement, tuple(ast.parse("await x").body)),)
        )

    assert generate_mutants({"pool.py": POOL}, [_operator(outside)]) == []


def test_an_operator_that_proposes_the_same_text_twice_makes_one_mutant():
    def twice(parsed: ParsedSource) -> Iterator[Mutation]:
        size = next(n for n in parsed.nodes if isinstance(n, ast.Constant) and n.value == 2)
        for _ in range(2):
            yield Mutation(size.lineno, "three workers", (Edit(size, (ast.Constant(3),)),))

    assert len(generate_mutants({"pool.py": POOL}, [_operator(twice)])) == 1


def test_a_statement_sharing_its_line_falls_back_to_the_whole_module_unparsed():
    source = "def run(job, log):\n    try:\n        return job()\n    except BaseException:\n        log('x'); raise\n"
    (text,) = [m.source for m in generate_mutants({"run.py": source}, [find_operator("CM602")])]
    assert text == "def run(job, log):\n    try:\n        return job()\n    except BaseException:\n        log('x')\n"


def test_max_mutants_takes_from_every_operator_in_turn_and_keeps_the_order():
    sources = {"ref.py": (REPO / "repository_after" / "notify_service.py").read_text()}
    every = generate_mutants(sources)
    kept = generate_mutants(sources, max_mutants=10)
    assert len(kept) == 10
    assert [m.id for m in kept] == [m.id for m in every if m in kept]
    assert len({m.operator for m in kept}) == 10  # more operators apply than mutants are kept
    assert limit_mutants(every, len(every) + 5, operator_catalog()) == every


def test_applicability_lists_every_operator_and_calls_those_without_mutants_not_applicable():
    sources = {"pool.py": POOL}
    rows = {row.operator: row for row in applicability(generate_mutants(sources))}
    assert list(rows) == [op.id for op in operator_catalog()]
    assert rows["CM103-single-worker"].mutants == 1
    assert rows["CM103-single-worker"].files == ("pool.py",)
    assert rows["CM103-single-worker"].status == "applicable"
    assert rows["CM102-sequentialize-gather"].status == NOT_APPLICABLE == "not_applicable"
    assert rows["CM102-sequentialize-gather"].files == ()


def test_generation_is_limited_to_the_operators_asked_for():
    chosen = [find_operator("CM202"), find_operator("CM203")]
    assert {m.operator for m in generate_mutants({"pool.py": POOL}, chosen)} == {
        "CM202-default-pool-size",
        "CM203-bound-plus-one",
    }


def test_mutant_modules_open_no_file_and_start_no_process():
    package = REPO / "evaluation" / "concgrade" / "static" / "mutants"
    for module in package.glob("*.py"):
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(ast.parse(module.read_text()))
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
        }
        assert not imported & {"subprocess", "os", "pathlib", "shutil", "io"}, module.name
        assert "open(" not in module.read_text().replace("_open", ""), module.name


def test_the_user_docs_list_every_operator():
    docs = (REPO / "docs" / "mutants.md").read_text()
    for op in operator_catalog():
        assert f"| `{op.id}` |" in docs, op.id
