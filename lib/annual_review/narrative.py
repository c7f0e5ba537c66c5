"""Narrative text: Markdown written by staff, with figures filled in from data.

A narrative file (``data/<year>/narrative/<section>.md``) is Markdown with
placeholders in Jinja syntax: ``{{ aided_children | more(100) }}人次``. Figures
come only from the section's data; a placeholder the section does not provide is
an error naming the file and line, never a blank.

Structure the renderer understands:

* ``# 小标题`` – a heading one level below the section's own heading; ``##`` one below that.
  The report numbers headings ((一)、1. …) when it is assembled.
* ``1. 内容`` – a point, written in the report as 一是内容, 二是内容 …

Filters: more, over, nearly, plain, scaled, cn, percent, months, each (see
:mod:`annual_review.numbers`), and ``change`` for the year before:
``{{ loans | change(loans_last_year, "人") }}`` → 较上年增加24人、增长6%; nothing at all in a
year with no previous figure, so let it write its own punctuation: ``{{ x | change(y, "所", prefix="，") }}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import jinja2
import mistune
import pandas as pd

from . import numbers, tracking
from .exceptions import NarrativeError

POINT_STYLE = "{cn}是"
POINT = re.compile(r"^ {0,3}\d+[.、]\s+(?P<text>.*)$")  # "1. 内容": a point, written 一是内容
_HEADING = re.compile(r"^ {0,3}#{1,6}\s")
# Characters that would start Markdown syntax if a figure or name from data held them.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&|#!])")


def _escape_markdown(value) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", "" if value is None else str(value))


def _each(table: pd.DataFrame, pattern: str, sep: str = "，") -> str:
    """Phrase every row of a table with a pattern naming its columns: ``{count}所{school_type}``."""
    return sep.join(pattern.format(**row) for row in table.to_dict("records"))


_FILTERS = {
    "more": numbers.more,
    "over": numbers.over,
    "nearly": numbers.nearly,
    "plain": numbers.plain,
    "cn": numbers.cn_numeral,
    "percent": numbers.percent,
    "scaled": numbers.scaled,
    "change": numbers.change,
    "months": numbers.month_span,
    "each": _each,
}


class _Renderer(mistune.HTMLRenderer):
    """HTML with headings marked by their depth below the section (numbered later, in the report)."""

    def heading(self, text: str, level: int, **attrs) -> str:
        tag = min(level + 2, 6)
        return f'<h{tag} class="ar-heading" data-depth="{level}">{text}</h{tag}>\n'


_environment = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    finalize=_escape_markdown,
    keep_trailing_newline=True,
    autoescape=False,  # the Markdown step escapes HTML; see _escape_markdown for Markdown itself
)
_environment.filters.update(_FILTERS)
_markdown = mistune.create_markdown(escape=True, renderer=_Renderer(escape=True))


def narrative_path(data_dir: str | Path, year: int, section: str) -> Path:
    return Path(data_dir) / str(year) / "narrative" / f"{section}.md"


def render_text(template: str, figures: Mapping[str, object], *, source: str = "<narrative>") -> str:
    """Fill the placeholders of a narrative with ``figures``; return Markdown with points numbered."""
    try:
        filled = _environment.from_string(template).render(**figures)
    except jinja2.TemplateSyntaxError as exc:
        raise NarrativeError(f"{source}, line {exc.lineno}: placeholder syntax: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        line = _error_line(exc)
        raise NarrativeError(
            f"{source}{f', line {line}' if line else ''}: {exc.message}; "
            f"the section provides: {sorted(figures)}"
        ) from None
    except (ValueError, TypeError, KeyError) as exc:
        line = _error_line(exc)
        raise NarrativeError(f"{source}{f', line {line}' if line else ''}: {exc}") from None
    return number_points(filled)


def _error_line(exc: Exception) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def number_points(markdown: str, style: str = POINT_STYLE) -> str:
    """Turn ``1. …`` points into paragraphs 一是…, 二是…; each run of points counts from one."""
    out, count = [], 0
    for line in markdown.splitlines():
        match = POINT.match(line)
        if match:
            count += 1
            out.extend([style.format(cn=numbers.cn_numeral(count)) + match["text"], ""])
        else:
            if line.strip() and (_HEADING.match(line) or not line.startswith(" ")):
                count = 0
            out.append(line)
    return "\n".join(out).strip() + "\n"


def to_html(markdown: str) -> str:
    """Markdown to HTML; raw HTML in the text is shown as text, never run."""
    return _markdown(markdown)


def render_narrative(data_dir: str | Path, year: int, section: str, figures: Mapping[str, object]) -> str:
    """The HTML of ``section``'s narrative for ``year`` with ``figures`` (and ``year``) filled in."""
    path = narrative_path(data_dir, year, section)
    tracking.record(path)
    if not path.is_file():
        raise NarrativeError(f"{path}: missing (the narrative of section '{section}')")
    text = path.read_text(encoding="utf-8-sig")
    return to_html(render_text(text, {"year": year, **figures}, source=str(path)))
