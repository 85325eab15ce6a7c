"""The command line in pytest's and SWE-bench's habits: what --help shows, how a flag is spelt, what a
misspelling gets, which folder a grade takes. Parsing only: nothing here runs a grade."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, RUN_PY
from datasetfactory import make_dataset

from concgrade.cli.main import COMMANDS, main, split_command
from concgrade.cli.options import did_you_mean
from concgrade.errors import UsageError


def run_py(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN_PY), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def readme_grade_flags() -> set[str]:
    """Every flag the README shows in the commands of its "Grading a task" section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Grading a task", 1)[1].split("\n## ", 1)[0]
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", section, re.DOTALL))
    commands = "\n".join(line for line in blocks.splitlines() if not line.startswith("docker "))
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", commands)) | set(re.findall(r"`(--[a-z][a-z-]+)", section))


def test_top_level_help_lists_the_flags_the_readme_uses_and_every_command():
    result = run_py("--help")
    assert result.returncode == 0
    flags = readme_grade_flags()
    assert {"--task", "--candidate", "--bench", "--gate", "--junit-xml"} <= flags  # the README still shows them
    missing = [flag for flag in sorted(flags | {"--dataset", "-k", "--verbose"}) if flag not in result.stdout]
    assert not missing, f"--help does not list {missing}"
    for command in COMMANDS:
        assert f"concgrade {command}" in result.stdout or command == "grade"


def test_every_default_is_in_the_help():
    help_text = run_py("--help").stdout
    jobs = re.search(r"--jobs N\s+pytest processes at once \(default: (\d+)\)", help_text)
    assert jobs is not None and int(jobs[1]) >= 1
    for flag in (
        "--test-timeout",
        "--run-timeout",
        "--memory-mb",
        "--max-tasks",
        "--output-mb",
        "--repeat",
        "--output",
    ):
        block = help_text.split(flag, 1)[1].split("\n  --", 1)[0]
        assert "(default:" in block, f"{flag} shows no default: {block!r}"
    dataset = run_py("dataset", "--help").stdout
    assert re.search(r"--executor \{local,dask\}\s+where grades run \(default: local\)", dataset)
    assert "--instance-ids" in dataset and "(default: DIR/reports)" in dataset


def test_a_misspelt_flag_gets_did_you_mean_and_the_commands_usage():
    result = run_py("--taks", "x")
    assert result.returncode == 2
    assert "did you mean --task?" in result.stderr
    assert "usage: concgrade [grade] [TASK]" in result.stderr
    assert "Traceback" not in result.stderr
    dataset = run_py("dataset", "somewhere", "--instance-idz", "a")
    assert dataset.returncode == 2 and "did you mean --instance-ids?" in dataset.stderr


def test_a_misspelt_command_is_not_taken_for_a_task_folder(tmp_path):
    result = run_py("datset", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert "datset: no such command or task folder (did you mean dataset?)" in result.stderr


def test_did_you_mean_names_each_close_flag_and_stays_quiet_otherwise():
    known = ["--task", "--jobs", "--junit-xml"]
    assert did_you_mean("unrecognized arguments: --taks", known) == " (did you mean --task?)"
    both = did_you_mean("unrecognized arguments: --taks --jbos=3", known)
    assert both == " (did you mean --task for --taks, --jobs for --jbos?)"
    assert did_you_mean("unrecognized arguments: --zzzzzz", known) == ""
    assert did_you_mean("argument --jobs: invalid int value: 'x'", known) == ""


@pytest.mark.parametrize(
    ("argv", "command", "rest"),
    [
        ([], "grade", []),
        (["some/task"], "grade", ["some/task"]),
        (["grade", "some/task", "-k", "x"], "grade", ["some/task", "-k", "x"]),
        (["--dataset", "d", "--jobs", "2"], "dataset", ["d", "--jobs", "2"]),
        (["--jobs", "2", "--dataset=d"], "dataset", ["d", "--jobs", "2"]),
        (["predictions", "p.jsonl", "--dataset", "d"], "predictions", ["p.jsonl", "--dataset", "d"]),
        (["check", "t"], "check", ["t"]),
    ],
)
def test_the_command_is_named_or_grade(argv, command, rest):
    assert split_command(argv) == (command, rest)


def test_positional_task_and_task_option_name_the_same_folder(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    for argv in (["grade", str(missing)], [str(missing)], ["--task", str(missing)]):
        assert main(argv) == 2
        assert str(missing) in capsys.readouterr().err
    other = tmp_path / "other"
    assert main([str(missing), "--task", str(other)]) == 2
    assert "two task folders given" in capsys.readouterr().err


def test_junitxml_is_pytests_spelling_of_junit_xml():
    from concgrade.cli.main import grade_parser

    parser = grade_parser(Path("."))
    assert parser.parse_args(["--junitxml", "j.xml"]).junit_xml == Path("j.xml")
    assert parser.parse_args(["--junit-xml=k.xml"]).junit_xml == Path("k.xml")
    args = parser.parse_args(["-v", "-k", "order and not slow"])
    assert args.verbose and args.keyword == "order and not slow"
    with pytest.raises(SystemExit):
        parser.parse_args(["-q", "-v"])  # both at once is a contradiction


def test_instance_ids_that_name_no_task_are_a_usage_error_with_the_close_names(tmp_path, capsys):
    dataset = make_dataset(tmp_path / "ds", ["pythonpath_task", "env_task"])
    assert main(["dataset", str(dataset), "--instance-ids", "pythonpath_tsk"]) == 2
    err = capsys.readouterr().err
    assert "no task 'pythonpath_tsk'" in err and "did you mean pythonpath_task" in err


def test_instance_ids_select_by_label_or_folder_name(tmp_path):
    from concgrade.dataset.dataset import select_tasks

    dataset = make_dataset(tmp_path / "ds", ["pythonpath_task", "env_task", "option_task"])
    chosen, found = select_tasks(dataset, None, ["env_task", "option_task/"])
    assert [task.name for task in chosen] == ["env_task", "option_task"] and found == 3
    with pytest.raises(UsageError):
        select_tasks(dataset, None, ["nothing"])
