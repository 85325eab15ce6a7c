"""Class 1: the harness's own files reachable from the run (the live package, its templates, the venv)."""

from __future__ import annotations

import site

from redteam_support import REFERENCE, Case, candidate
from rt_attacks import GRADER_ARGV, MODULES

# The harness packages a run can find: the one its `concgrade` import resolves to, and the grader's own.
HARNESS_FOLDERS = (
    MODULES
    + GRADER_ARGV
    + """
def _harness_folders():
    import pathlib as _pathlib
    _found = []
    _package = _module("conc", "grade")
    if _package is not None and getattr(_package, "__file__", None):
        _found.append(_pathlib.Path(_package.__file__).resolve().parent)
    if _grader_harness() is not None:
        _found.append(_grader_harness())
    _found.append(_pathlib.Path("__HARNESS__"))  # where the harness is installed, known to the attacker
    return _found


def _append(path, text):
    try:
        with open(path, "a") as _handle:
            _handle.write(text)
    except OSError:
        pass
"""
)

# The report template is rendered by the grader after the runs: Jinja2 there is code running in the grader.
TEMPLATE_RCE = (
    REFERENCE
    + HARNESS_FOLDERS
    + """
for _folder in _harness_folders():
    _append(_folder / "report" / "templates" / "report.html.j2",
            "{{ cycler.__init__.__globals__.os.system('sleep 60 __TOKEN__ &') }}")
"""
)

# The in-process plugin of every later run (this grade's reruns, the next grades) rewritten.
PLUGIN_POISON = (
    REFERENCE
    + HARNESS_FOLDERS
    + """
for _folder in _harness_folders():
    _append(_folder / "inside" / "plugin.py", "\\n# __TOKEN__: every later graded process runs this\\n")
"""
)

# A .pth file in site-packages runs (or here: adds a path) at every interpreter start on the machine.
SITE_PACKAGES_PTH = (
    REFERENCE
    + """
import site as _site
for _folder in _site.getsitepackages():
    try:
        with open(_folder + "/rt-__TOKEN__.pth", "w") as _handle:
            _handle.write("/nonexistent-__TOKEN__\\n")
    except OSError:
        pass
"""
)

# The grader's entry script, found from its command line.
RUN_PY = (
    REFERENCE
    + HARNESS_FOLDERS
    + """
for _folder in _harness_folders():
    _append(_folder.parent / "run.py", "\\n# __TOKEN__\\n")
"""
)

SANDBOX = "integrity.sandbox_respected.candidate"

CASES = [
    Case("template-rce", 1, candidate(TEMPLATE_RCE), "rejected", (SANDBOX,), today="accepted; grader ran the template"),
    Case("plugin-poison", 1, candidate(PLUGIN_POISON), "rejected", (SANDBOX,), today="accepted; live plugin changed"),
    Case(
        "site-packages-pth",
        1,
        candidate(SITE_PACKAGES_PTH),
        "rejected",
        (SANDBOX,),
        canaries=tuple(f"{folder}/rt-__TOKEN__.pth" for folder in site.getsitepackages()),
        today="accepted; a .pth file left in site-packages",
    ),
    Case("run-py", 1, candidate(RUN_PY), "rejected", (SANDBOX,), today="accepted; the grader's run.py changed"),
]
