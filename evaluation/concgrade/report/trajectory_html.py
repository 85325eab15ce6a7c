"""Renders trajectory Markdown to HTML safely: trajectories are untrusted, so raw HTML is escaped, never passed on."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from markdown_it import MarkdownIt


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    from markdown_it import MarkdownIt  # imported when a page renders Markdown, not by every command

    # html=False escapes raw HTML blocks and inline tags; markdown-it refuses javascript:, vbscript:,
    # file: and data: links by itself. Images would load from the network, so they become links.
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.add_render_rule("image", _image_as_link)
    md.core.ruler.push("shift_headings", _shift_headings)
    return md


# The trajectory sits in the report's "Trajectory" section (an h2): its own headings start below it, so its
# "# Trajectory" is an h3, never a second page title or a section of the report.
HEADING_SHIFT = 2


def _shift_headings(state: Any) -> None:
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(6, int(token.tag[1:]) + HEADING_SHIFT)}"


def _image_as_link(self: Any, tokens: list[Any], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    alt = "".join(child.content for child in token.children or [])
    src = token.attrGet("src") or ""
    return f'<a href="{escape(src)}">[image: {escape(alt or src)}]</a>'


def render_markdown(text: str) -> Markup:
    """HTML of a Markdown text; safe to place in the page as is."""
    return Markup(_renderer().render(text))
