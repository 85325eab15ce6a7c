"""Renders report.html: one self-contained page (CSS, script and SVG inline, no external assets) from the view model."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from concgrade.report.bench_view import bench_view
from concgrade.report.history_view import histories_view
from concgrade.report.mutants_view import mutants_view
from concgrade.report.view import build_view
from concgrade.results.model import Results

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
ASSETS = HERE / "assets"


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def prepare_html() -> None:
    """Compile the report's template now (a quarter of a second), e.g. while the runs are in flight."""
    _environment().get_template("report.html.j2")


def asset(name: str) -> Markup:
    """An asset's text, to be inlined as is (it is ours, so it is trusted; it must not close its own tag)."""
    text = (ASSETS / name).read_text(encoding="utf-8")
    if "</" in text:
        raise ValueError(f"{name}: an inlined asset must not contain '</'")
    return Markup(text)


def csp_hash(text: str) -> str:
    """The Content-Security-Policy source that allows exactly this inline style or script and nothing else.

    With it, nothing injected into the page (a test name, a trajectory, captured output) could run
    even if escaping failed somewhere.
    """
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def render_html(results: Results) -> str:
    css, script = asset("report.css"), asset("report.js")
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            v=build_view(results),
            bench=bench_view(results),
            histories=histories_view(results),
            mutants=mutants_view(results),
            css=css,
            script=script,
            style_hash=csp_hash(css),
            script_hash=csp_hash(script),
        )
    )
