"""Reading `[[histories]]` from a manifest: values, defaults, and errors that name the file and the key."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from concgrade.errors import TaskError
from concgrade.task.histories import HistorySpec, HookRef, OperationDecl, parse_histories, read_histories

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

MANIFEST = Path("task/evaluation/concgrade.toml")

FULL = """
[[histories]]
name = "hits"
description = "page hits from four threads"
target = "hit_counter:HitCounter"
constructor = { args = [10], kwargs = { strict = true } }
operations = [
  { method = "incr", args = ["page:choice(a,b,c)"], weight = 3 },
  { method = "get", args = ["page:choice(a,b,c)"] },
]
threads = 8
operations_per_thread = 100
compare = { get = "equal", incr = "tests/hist_hooks.py:close_enough" }
partition_by = 0
asyncio = false
stress = false
budget_seconds = 5
runs = 3
timeout_seconds = 20

[[histories]]
name = "ids"
target = "ids:next_id"
operations = [{ args = [] }]
compare = "unique"
"""


def parse(text: str) -> tuple[HistorySpec, ...]:
    return parse_histories(tomllib.loads(text), MANIFEST)


def one(**entry: Any) -> HistorySpec:
    table = {"name": "h", "target": "m:C", "operations": [{"method": "go"}], **entry}
    return parse_histories({"histories": [table]}, MANIFEST)[0]


def test_every_key_read() -> None:
    hits, ids = parse(FULL)
    assert hits == HistorySpec(
        name="hits",
        target="hit_counter:HitCounter",
        kind="object",
        operations=(
            OperationDecl("incr", ("page:choice(a,b,c)",), 3),
            OperationDecl("get", ("page:choice(a,b,c)",), 1),
        ),
        constructor_args=(10,),
        constructor_kwargs={"strict": True},
        threads=8,
        operations_per_thread=100,
        compare="equal",
        compare_methods={"get": "equal", "incr": HookRef("close_enough", file="tests/hist_hooks.py")},
        partition_by=0,
        asyncio=False,
        stress=False,
        budget_seconds=5.0,
        runs=3,
        timeout_seconds=20.0,
        description="page hits from four threads",
    )
    assert ids.kind == "function" and ids.compare == "unique" and ids.unique_methods({""}) == frozenset({""})


def test_defaults() -> None:
    history = one()
    assert (history.threads, history.operations_per_thread, history.runs) == (4, 50, 1)
    assert (history.stress, history.asyncio, history.partition_by, history.compare) == (True, False, None, "equal")
    assert history.budget_seconds == 10.0 and history.constructor_args == () and history.kind == "object"


def test_no_histories_is_an_empty_tuple() -> None:
    assert parse_histories({}, MANIFEST) == ()


def test_an_operations_hook_instead_of_a_list() -> None:
    history = one(operations="tests/hist_hooks.py:operations")
    assert history.operations == () and history.operations_hook == HookRef("operations", file="tests/hist_hooks.py")
    assert one(operations="hist_hooks:operations").operations_hook == HookRef("operations", module="hist_hooks")


def test_the_child_spec_carries_everything_a_child_needs(tmp_path: Path) -> None:
    hits = parse(FULL)[0]
    spec = hits.child_spec(seed=7, task_root=tmp_path)
    assert spec["seed"] == 7 and spec["object"] is True and spec["partition_by"] == 0
    assert spec["constructor"] == {"args": [10], "kwargs": {"strict": True}}
    assert spec["operations"][0] == {"method": "incr", "args": ["page:choice(a,b,c)"], "weight": 3}
    hook = {"file": str(tmp_path / "tests/hist_hooks.py"), "function": "close_enough"}
    assert spec["compare"] == {"default": "equal", "methods": {"get": "equal", "incr": hook}}
    assert spec["hook_paths"] == [str(tmp_path / "tests"), str(tmp_path / "evaluation")]


def test_read_histories_checks_that_hook_files_exist(tmp_path: Path) -> None:
    manifest = {"histories": [{"name": "h", "target": "m:C", "operations": "tests/hooks.py:ops"}]}
    with pytest.raises(TaskError, match=r"history h: hook 'tests/hooks.py:ops': no such file"):
        read_histories(tmp_path, manifest, MANIFEST)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "hooks.py").write_text("def ops(rng, thread, count):\n    return []\n")
    assert read_histories(tmp_path, manifest, MANIFEST)[0].operations_hook is not None


BAD = [
    ({"name": "a b"}, r"histories\[0\]\.name must be a short name"),
    ({"target": "no_colon"}, r"\(h\)\.target must be 'module:Class' or 'module:function'"),
    ({"colour": "red"}, r"unknown key\(s\) \['colour'\]"),
    ({"operations": []}, r"\.operations must be an array of tables"),
    ({"operations": [{"method": "go", "argz": []}]}, r"operations\[0\] has unknown key\(s\) \['argz'\]"),
    ({"operations": [{"method": "go", "args": ["choise(a,b)"]}]}, r"operations\[0\]\.args: .*no generator choise\(\)"),
    ({"operations": [{"method": "go", "args": ["int(5,1)"]}]}, r"int\(\) takes two whole numbers"),
    ({"operations": [{"method": "go", "weight": 0}]}, r"operations\[0\]\.weight must be a whole number of at least 1"),
    ({"operations": [{"method": "go"}, {"args": []}]}, r"operations\[1\]\.method is required for an object target"),
    ({"operations": [{"method": "__init__"}]}, r"must not be a special method"),
    ({"kind": "function"}, r"operations\[0\]\.method must be left out for a function target"),
    ({"kind": "thing"}, r"\.kind must be 'object' or 'function'"),
    ({"threads": 1}, r"\.threads must be a whole number from 2 to 64"),
    ({"threads": True}, r"\.threads must be a whole number"),
    ({"operations_per_thread": 20000}, r"\.operations_per_thread must be a whole number from 1 to 10000"),
    ({"budget_seconds": 0}, r"\.budget_seconds must be a number of seconds above 0"),
    ({"stress": "yes"}, r"\.stress must be true or false"),
    ({"partition_by": 0}, r"\.partition_by is argument 0, which go does not take"),
    ({"partition_by": -1}, r"\.partition_by must be an argument's position"),
    ({"compare": "approximately"}, r"\.compare must be 'equal', 'unique', a hook"),
    ({"compare": {"stop": "unique"}}, r"\.compare names \['stop'\], which no operation calls"),
    ({"compare": "../outside.py:f"}, r"\.compare must name a file in tests/ or evaluation/"),
    ({"compare": "tests/../../outside.py:f"}, r"\.compare must name a file in tests/ or evaluation/"),
    ({"compare": "tests/hooks.py"}, r"\.compare must be 'equal', 'unique', a hook"),
    ({"compare": "src/hooks.py:f"}, r"\.compare must name a file in tests/ or evaluation/"),
    ({"constructor": "10"}, r"\.constructor must be an array of arguments or"),
    ({"operations": [{"args": []}], "constructor": [1]}, r"\.constructor is for object targets only"),
]


@pytest.mark.parametrize(("entry", "message"), BAD)
def test_errors_name_the_file_the_entry_and_the_key(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskError, match=message) as raised:
        one(**entry)
    assert str(raised.value).startswith(str(MANIFEST))


def test_section_shape_errors() -> None:
    with pytest.raises(TaskError, match=r"write each history as \[\[histories\]\]"):
        parse_histories({"histories": {"name": "h"}}, MANIFEST)
    with pytest.raises(TaskError, match="history names must be unique; repeated: h"):
        entry = {"name": "h", "target": "m:C", "operations": [{"method": "go"}]}
        parse_histories({"histories": [entry, entry]}, MANIFEST)
