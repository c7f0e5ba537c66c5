"""Narrative text: Markdown written by staff, with figures filled in from data.

A narrative file (``data/<year>/narrative/<section>.md``) is Markdown with
placeholders in Jinja syntax: ``{{ aided_children | more(100) }}人次``. Figures
come only from the section's data; a placeholder the section does not provide is
an error naming the file and line, never a blank.

Structure the renderer understands:

* ``# 小标题`` – a heading one level below the section's own heading; ``##`` one below that.
  The report numbers headings ((一)、1. …) when it is assembled.
* ``1. 内容`` – a point, written in the report as 一是内容, 二是内容 …

Filters: more, over, nearly, plain, scaled, cn, rate (percent), months, each (see
:mod:`annual_review.core.numbers`), and ``change`` for the year before:
``{{ loans | change(loans_last_year, "人") }}`` → 较上年增加24人、增长6%; nothing at all in a
year with no previous figure, so let it write its own punctuation: ``{{ x | change(y, "所", prefix="，") }}``.

Narratives are text, never code: they are rendered in Jinja2's immutable sandbox with
only these filters, ``range`` and the values the section passes; no attribute of a
value is reachable but a mapping's ``get``/``keys``/``values``/``items`` and the figures
of library objects made for narratives; output is limited to :data:`MAX_OUTPUT`
characters and rendering to :data:`MAX_SECONDS`. A narrative shows no pictures and
fetches nothing. Any violation stops the build naming the file and line.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from pathlib import Path

import jinja2
import mistune
import pandas as pd
from jinja2.sandbox import SecurityError

from ..core import numbers, provenance, tracking
from ..core.exceptions import NarrativeError
from ..core.paths import OUTSIDE, contained, narrative_dir, read_narrative
from ..core.web import WEB_ADDRESS
from . import sandbox
from .sandbox import MAX_OUTPUT, MAX_RANGE, MAX_SECONDS, MAX_WIDTH  # noqa: F401 - the limits, named here too


POINT_STYLE = "{cn}是"
POINT = re.compile(r"^ {0,3}\d+[.、]\s+(?P<text>.*)$")  # "1. 内容": a point, written 一是内容
_HEADING = re.compile(r"^ {0,3}#{1,6}\s")
# Characters that would start Markdown syntax if a figure or name from data held them.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&|#!])")


def _escape_markdown(value) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", numbers.NO_FIGURE if value is None else str(value))


def _finalize(value) -> str:
    """A placeholder's value as text in the Markdown: escaped, and marked with its source if it came from data.

    What it says of itself for the build (a share of a whole of 0: what was written instead) is kept as a note."""
    note = getattr(value, "note", "")
    if note and getattr(sandbox.budget, "notes", None) is not None:
        sandbox.budget.notes.append(note)
    text = _escape_markdown(value)
    register = getattr(sandbox.budget, "register", None)
    return provenance.mark(text, value, register) if register is not None else text


def _each(table: pd.DataFrame, pattern: str, sep: str = "，") -> str:
    """Phrase every row of a table with a pattern naming its columns: ``{count}所{school_type}``."""
    if not isinstance(table, pd.DataFrame) or not isinstance(pattern, str):
        raise SecurityError(f"each takes a table and a pattern such as '{{count}}所', not {type(table).__name__}")
    for _, field_name, spec, conversion in string.Formatter().parse(pattern):
        if field_name is not None and (not field_name.isidentifier() or conversion or (spec and not re.fullmatch(r"[,.\d%fdg]*", spec))):
            raise SecurityError(f"each: {{{field_name}}} must name a column, such as {{count}} (not an attribute or index)")
        if spec and any(int(n) > MAX_WIDTH for n in re.findall(r"\d+", spec)):
            raise SecurityError(f"each: {{{field_name}:{spec}}} is wider than {MAX_WIDTH} characters")
        if field_name is not None and field_name not in table.columns:
            raise SecurityError(f"each: {{{field_name}}} is not a column of the table (it has {', '.join(map(str, table.columns))})")
    text = sep.join(pattern.format(**row) for row in table.to_dict("records"))
    return provenance.SourcedText(text, table.attrs.get(provenance.ROW_SOURCES, ()))


_FILTERS = {  # each passes the sources of the figures it is given on to the words it makes
    name: provenance.carrying(function)
    for name, function in {
        "more": numbers.more,
        "over": numbers.over,
        "nearly": numbers.nearly,
        "plain": numbers.plain,
        "cn": numbers.cn_numeral,
        "percent": numbers.percent,
        "rate": numbers.rate,
        "scaled": numbers.scaled,
        "change": numbers.change,
        "months": numbers.month_span,
    }.items()
}
_FILTERS["each"] = _each


class _Renderer(mistune.HTMLRenderer):
    """HTML with headings marked by their depth below the section (numbered later, in the report)."""

    def heading(self, text: str, level: int, **attrs) -> str:
        tag = min(level + 2, 6)
        return f'<h{tag} class="ar-heading" data-depth="{level}">{text}</h{tag}>\n'


_environment = sandbox.Sandbox(
    undefined=jinja2.StrictUndefined,
    finalize=_finalize,
    keep_trailing_newline=True,
    autoescape=False,  # the Markdown step escapes HTML; see _escape_markdown for Markdown itself
    loader=None,  # nothing to include, import or extend: a narrative is one file
)
_environment.filters = dict(_FILTERS)  # only these: no built-in filter reaches anything else
_environment.tests = {name: _environment.tests[name] for name in ("defined", "undefined", "none", "number", "string")}
_environment.globals = {"range": sandbox.bounded_range}
_markdown = mistune.create_markdown(escape=True, renderer=_Renderer(escape=True))


MAX_SOURCE = 100_000  # characters of a narrative file (and so of the code Jinja compiles it to)
MAX_TAGS = 5_000  # placeholders and statements in one narrative ({{ … }}, {% … %}); a long section has a few dozen


def narrative_path(data_dir: str | Path, year: int, section: str) -> Path:
    return narrative_dir(data_dir, year) / f"{section}.md"


def render_text(template: str, figures: Mapping[str, object], *, source: str = "<narrative>") -> str:
    """Fill the placeholders of a narrative with ``figures``; return Markdown with points numbered."""
    return provenance.unmarked(_render(template, figures, source)[0])


def _render(template: str, figures: Mapping[str, object], source: str, notes: list | None = None) -> tuple[str, list[str]]:
    """The narrative as Markdown, each figure from data marked with its index in the returned list of sources;
    what the build should be told (``notes``) added to ``notes``, each naming ``source``."""
    _refuse_remote(template, source)
    tags = template.count("{{") + template.count("{%")
    if len(template) > MAX_SOURCE or tags > MAX_TAGS:
        what = (f"{len(template):,} characters; a narrative holds at most {MAX_SOURCE:,}" if len(template) > MAX_SOURCE
                else f"{tags:,} placeholders ({{{{ … }}}} and {{% … %}}); a narrative holds at most {MAX_TAGS:,}")
        raise NarrativeError(f"{source}: {what} (叙述文本过长)")
    sandbox.budget.register = register = []
    sandbox.budget.notes = said = []
    compiled = None
    try:
        sandbox.start_clock(MAX_SECONDS)
        compiled = _environment.from_string(template)
        filled = sandbox.fill(compiled, figures)
    except jinja2.TemplateSyntaxError as exc:
        raise NarrativeError(f"{source}, line {exc.lineno}: placeholder syntax: {exc.message}") from None
    except SecurityError as exc:
        line = _error_line(exc, compiled)
        raise NarrativeError(f"{source}{f', line {line}' if line else ''}: not allowed in a narrative: {exc} "
                             "(叙述文本只能引用数据，不能执行代码)") from None
    except sandbox.OutOfTime as exc:
        line = _error_line(exc, compiled)
        raise NarrativeError(f"{source}{f', line {line}' if line else ''}: took more than {MAX_SECONDS:g} s to fill in; a loop that does not end? "
                             "(叙述文本处理超时)") from None
    except sandbox.TooLong as exc:
        raise NarrativeError(f"{source}{f', line {exc.line}' if exc.line else ''}: comes to more than {MAX_OUTPUT:,} "
                             "characters once filled in; a loop that repeats too often? (叙述文本过长)") from None
    except RecursionError:
        raise NarrativeError(f"{source}: a macro that calls itself without end (叙述文本递归过深)") from None
    except TypeError as exc:
        if "no loader" not in str(exc):
            line = _error_line(exc, compiled)
            raise NarrativeError(f"{source}{f', line {line}' if line else ''}: {exc}") from None
        raise NarrativeError(f"{source}: a narrative cannot include, import or extend other files") from None
    except jinja2.UndefinedError as exc:
        line = _error_line(exc, compiled)
        raise NarrativeError(
            f"{source}{f', line {line}' if line else ''}: {exc.message}; "
            f"the section provides: {sorted(figures)}"
        ) from None
    except (ValueError, KeyError, ArithmeticError) as exc:
        line = _error_line(exc, compiled)
        raise NarrativeError(f"{source}{f', line {line}' if line else ''}: {exc}") from None
    finally:
        sandbox.budget.register = sandbox.budget.notes = None
    if notes is not None:
        notes += [f"{source}: {note}" for note in dict.fromkeys(said)]
    markdown = number_points(filled)
    _refuse_links(markdown, template, source)
    return markdown, register


# Markdown that would show a picture: ![text](address) and reference definitions [x]: address.
_IMAGE = re.compile(r"!\[[^\]]*\]\s*[(\[]")
_REMOTE = WEB_ADDRESS


def _refuse_remote(template: str, source: str) -> None:
    """A narrative shows no pictures and names no web address: the report fetches nothing when built or read."""
    problems = []
    for number, line in enumerate(template.splitlines(), 1):
        if _IMAGE.search(line):
            problems.append(f"{source}, line {number}: a picture (![…](…)); narratives hold text, and charts come "
                            "from the section's notebook (叙述文本不能插入图片)")
        elif _REMOTE.search(line):
            problems.append(f"{source}, line {number}: a web or file address; the report fetches and links nothing "
                            "from outside (叙述文本不能包含网址)")
    if problems:
        raise NarrativeError(problems)


_tree = mistune.create_markdown(renderer="ast")
# Raw HTML that would show a picture or link somewhere (it is escaped, so shown as text; but it says a narrative
# was written to fetch something, so it is refused).
_TARGET = re.compile(r"(?i)<\s*(?:img|a|iframe|script|object|embed|link|svg|video|audio|source|image|form|base|meta)\b"
                     r"|\b(?:src|href|srcset|action|formaction|poster|xlink:href)\s*=")


def _refuse_links(markdown: str, template: str, source: str) -> None:
    """The narrative as filled in, read as Markdown reads it: no picture, no link, no raw HTML tag and no web or file
    address, however written (a reference definition, an autolink, a Jinja comment splitting the word)."""
    found: list[str] = []

    def walk(nodes) -> None:
        for node in nodes:
            kind = node.get("type")
            if kind in ("image", "link"):
                url = str(node.get("attrs", {}).get("url", ""))
                found.append(f"{'a picture' if kind == 'image' else 'a link'} to {url[:60]!r}")
            elif kind in ("inline_html", "block_html") and _TARGET.search(node.get("raw", "")):
                found.append(f"an HTML tag that would fetch or link {node.get('raw', '')[:40]!r}")
            elif kind in ("text", "codespan", "block_code") and _REMOTE.search(node.get("raw", "")):
                found.append(f"a web or file address in {_REMOTE.search(node.get('raw', '')).group()[:40]!r}")
            walk(node.get("children") or [])

    walk(_tree(provenance.unmarked(markdown)))
    if found:
        problems = []
        for what in dict.fromkeys(found):
            line = next((n for n, text in enumerate(template.splitlines(), 1)  # the line, its Jinja comments aside
                         if any(part in re.sub(r"\{#.*?#\}", "", text) for part in re.findall(r"'([^']{3,})'", what))), None)
            problems.append(f"{source}{f', line {line}' if line else ''}: {what}; narratives hold text, and charts come "
                            "from the section's notebook (叙述文本不能插入图片、链接或网址)")
        raise NarrativeError(problems)


def _error_line(exc: Exception, compiled=None) -> int | None:
    """The narrative's line where ``exc`` arose: the last frame of the template's code, mapped back to its source."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            # Jinja rewrites an Exception's frames to the template's lines; the deadline's sandbox.OutOfTime it does not catch.
            mapped = isinstance(exc, sandbox.OutOfTime) and compiled is not None
            line = compiled.get_corresponding_lineno(tb.tb_lineno) if mapped else tb.tb_lineno
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


def render_narrative(data_dir: str | Path, year: int, section: str, figures: Mapping[str, object],
                     notes: list | None = None) -> str:
    """The HTML of ``section``'s narrative for ``year`` with ``figures`` (and ``year``) filled in; what the build should
    be told about it is added to ``notes``."""
    path = narrative_path(data_dir, year, section)
    tracking.record(path)
    if not path.is_file():
        raise NarrativeError(f"{path}: missing (the narrative of section '{section}')")
    if not contained(path, narrative_dir(data_dir, year)):
        raise NarrativeError(f"{path}: {OUTSIDE.format(folder=narrative_dir(data_dir, year))}")
    text = read_narrative(path)
    from ..core.context import narrative_context

    text = _mark_anchors(_mark_unfinished(text, path))
    markdown, register = _render(text, {**narrative_context(data_dir, year), **figures}, str(path), notes)
    where = f"{path.parent.parent.name}/{path.parent.name}/{path.name}"  # <year>/narrative/<name>.md, in the data folder
    return _anchored(_unfinished_class(provenance.spans(to_html(markdown), register)), where)


_ANCHOR, _ANCHOR_END = "\ue011", "\ue012"  # around the line a block starts on; becomes data-anchor="file:line"
_OPENERS, _CLOSERS = ("{{", "{%", "{#"), ("}}", "%}", "#}")
_LEAD = re.compile(r"(?:#{1,6}\s+|\d+[.、]\s+|[-*+]\s+)?")


def _mark_anchors(text: str) -> str:
    """Each block of the narrative (paragraph, heading, point) marked with the line it starts on, so the report's
    paragraph says where its words come from: a draft's Word version keeps it as a bookmark, and
    ``annual-review review`` takes a reviewer's comment or change back to that line."""
    lines, depth, after_blank = text.splitlines(), 0, True
    for index, line in enumerate(lines):
        stripped = line.strip()
        statement = stripped.startswith(("{%", "{#"))
        if stripped and depth == 0 and not statement and (
                after_blank or _HEADING.match(line) or POINT.match(line) or _LEAD.match(stripped).group()):
            indent = len(line) - len(line.lstrip())
            lead = _LEAD.match(line[indent:]).group()
            lines[index] = f"{line[:indent + len(lead)]}{_ANCHOR}{index + 1}{_ANCHOR_END}{line[indent + len(lead):]}"
        depth += sum(line.count(t) for t in _OPENERS) - sum(line.count(t) for t in _CLOSERS)
        after_blank = not stripped or (statement and after_blank)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def _anchored(markup: str, where: str) -> str:
    """The marks of :func:`_mark_anchors` as a ``data-anchor`` on the block each starts (the render keeps them in a
    draft only); a mark that fell anywhere else (a code block) is dropped."""
    import html

    markup = re.sub(rf'<(p|h\d|li)((?: [^>]*)?)>([^<]*?){_ANCHOR}(\d+){_ANCHOR_END}',
                    lambda m: f'<{m[1]}{m[2]} data-anchor="{html.escape(where)}:{m[4]}">{m[3]}', markup)
    return re.sub(rf"{_ANCHOR}\d+{_ANCHOR_END}", "", markup)


_UNFINISHED = "\ue010"  # put before an unfinished paragraph; becomes class="ar-unfinished" on its block in the HTML


def _mark_unfinished(text: str, path: Path) -> str:
    """The narrative with each unfinished paragraph (a stub; last year's words carried over and not touched) marked,
    so that a draft shows it highlighted (a final build refuses it before it is ever run)."""
    from .finished import CARRIED, carried, unfinished_paragraphs

    tracking.record(path.parent / CARRIED)
    found = unfinished_paragraphs(text, path.name, *carried(path.parent))
    if not found:
        return text
    lines = text.splitlines()
    for line, _, _ in found:
        index = line - 1
        indent = len(lines[index]) - len(lines[index].lstrip())
        body = lines[index][indent:]
        lead = re.match(r"(?:#{1,6}\s+|\d+[.、]\s+)?", body).group()
        lines[index] = lines[index][:indent] + lead + _UNFINISHED + body[len(lead):]
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def _unfinished_class(markup: str) -> str:
    return re.sub(rf'<(p|h\d|li)((?: [^>]*)?)>([^<]*?){_UNFINISHED}', r'<\1\2 class="ar-unfinished">\3',
                  markup).replace(_UNFINISHED, "")
