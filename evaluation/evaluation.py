"""The task's documented evaluation entry (`python evaluation/evaluation.py`, as the task README and its compose
commands say): the same grade as run.py, reports in reports/, plus a short JSON summary in evaluation/results.json
(verdict, test counts, line counts and structure of each implementation). Takes run.py's options."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if (HERE / "concgrade").is_dir():  # a plain checkout: use the harness beside this file
    sys.path.insert(0, str(HERE))

from concgrade.cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main([*sys.argv[1:], "--summary-json", str(HERE / "results.json")], default_task=HERE.parent))
