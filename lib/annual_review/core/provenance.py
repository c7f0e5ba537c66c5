"""Where each figure in the report comes from, so a reviewer can check every number of a draft.

A table loaded by :func:`annual_review.registers.reading.load_table` carries its register's title
and year; selecting rows adds the filter in words; :func:`~annual_review.registers.rows.total`
gives a :class:`Figure` — a plain int or float to every calculation — that also says
which register, year, filter and aggregation it is, and how many rows it counted
("生源地信用助学贷款办理登记 2020，共424行"). Narrative filters pass a figure's source on
to the words they make (近70万), and tables carry a source for each number. In the
published report (``--final``) nothing of this shows; in a draft (``--draft``) each
figure shows its source on hover and in a sources appendix.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

SOURCE = "ar_source"  # DataFrame.attrs key: {"title": …, "year": …, "filters": [...]}
ROW_SOURCES = "ar_row_sources"  # DataFrame.attrs key: a source per row (tallies: the rows each group counted)
CELL_SOURCES = "ar_cell_sources"  # DataFrame.attrs key: {(row, column): source} (comparison tables)
ROWS = "ar_rows"  # DataFrame.attrs key: the register rows a tally counted (its charts say so)
ROW_UNITS = "ar_row_units"  # DataFrame.attrs key: the unit of each row's figures (comparison tables)
ROW_INDEX = "行"  # the index of a register as loaded: each row's number in its file, as the spreadsheet shows it
NAMED_ROWS = 3  # a figure from this many rows or fewer names them (第12行): a reviewer goes straight to them
# Narrative markup: the figure's text between private-use marks, with the index of its source.
_OPEN, _MID, _CLOSE = "\ue000", "\ue001", "\ue002"
_MARKED = re.compile(f"{_OPEN}(\\d+){_MID}(.*?){_CLOSE}", re.S)


class _Sourced:
    """A number that also says where it comes from (arithmetic on it gives plain numbers)."""

    source: str = ""

    def __new__(cls, value, source: str = ""):
        figure = super().__new__(cls, value)
        figure.source = source
        return figure


class Figure(_Sourced, int):
    """A whole number from data that knows where it comes from."""


class FigureFloat(_Sourced, float):
    """A number from data that knows where it comes from."""


class SourcedText(str):
    """Words made from figures (2600多, 较上年增加3所), with the sources of the figures they say and the number
    they say it of (2618), for the figures published as data."""

    sources: tuple[str, ...] = ()
    value = None

    def __new__(cls, value, sources=(), number=None):
        text = super().__new__(cls, value)
        text.sources = tuple(sources)
        text.value = number
        return text


class SourcedList(list):
    """Values from data (the months a register has entries in) that know where they come from."""

    def __init__(self, values=(), source: str = ""):
        super().__init__(values)
        self.source = source


def figure(value, source: str):
    """``value`` as a :class:`Figure` (or :class:`FigureFloat`) saying ``source``; None stays None."""
    if value is None:
        return None
    if isinstance(value, float) and not float(value).is_integer():
        return FigureFloat(value, source)
    return Figure(int(value), source)


def sources_of(*values) -> tuple[str, ...]:
    found = []
    for value in values:
        found += [getattr(value, "source", "")] + list(getattr(value, "sources", ()))
    return tuple(dict.fromkeys(s for s in found if s))


def carrying(function):
    """A narrative filter whose words keep the sources of the figures given to it.

    A figure of this year and last (:class:`annual_review.notebook.figures.Indicator`) is read as this
    year's value, but by ``change`` with nothing else given as this year's against last's (a share's
    change in percentage points), and by ``rate`` as both years'.
    """
    def sourced(*args, **kwargs):
        if args and hasattr(args[0], "narrative_fields") and hasattr(args[0], "now") and function.__name__ != "rate":
            indicator, rest = args[0], args[1:]
            if function.__name__ == "change" and not rest and "before" not in kwargs:
                if not hasattr(indicator, "unit"):  # a share: its change is in percentage points
                    return SourcedText(indicator.change, sources_of(indicator.now, indicator.last))
                args = (indicator.now, indicator.last, kwargs.pop("unit", indicator.unit))
            else:
                args = (indicator.now, *rest)
        result = function(*args, **kwargs)
        found = sources_of(*args, *kwargs.values())
        number = args[0] if args and isinstance(args[0], (int, float)) and not isinstance(args[0], bool) else None
        return SourcedText(result, found, number) if found and isinstance(result, str) else result

    sourced.__name__ = getattr(function, "__name__", "filter")
    sourced.__doc__ = function.__doc__
    return sourced


def table_source(frame) -> dict:
    return dict(frame.attrs.get(SOURCE) or {})


def with_source(frame, title: str, year: int):
    frame.attrs[SOURCE] = {"title": title, "year": int(year), "filters": []}
    return frame


def filtered(frame, result, words: list[str]):
    """``result`` (rows of ``frame``) carrying ``frame``'s source with the filter ``words`` added."""
    source = table_source(frame)
    if source:
        source["filters"] = [*source.get("filters", []), *words]
        result.attrs[SOURCE] = source
    return result


def register_rows(frame) -> list[int] | None:
    """The numbers of ``frame``'s rows in their register's file (its header is row 1), while its rows are still a
    register's rows as loaded (filtered, not regrouped or renumbered); None otherwise."""
    index = getattr(frame, "index", None)
    if index is None or index.name != ROW_INDEX or not str(table_source(frame).get("year", "")).isdigit():
        return None
    return [int(n) for n in index]


def describe(frame, aggregation: str, rows: int, numbers: list[int] | None = None) -> str:
    """"生源地信用助学贷款办理登记 2020，区级，出动人次合计，共3行（第2、5、9行）": the register, year, filter, aggregation,
    rows counted and, for a few, which (``numbers``, else the frame's own rows when it counted them all)."""
    source = table_source(frame)
    if not source:
        return ""
    parts = [f"{source['title']} {source['year']}", *source.get("filters", [])]
    if aggregation:
        parts.append(aggregation)
    if numbers is None and rows == len(frame):
        numbers = register_rows(frame)
    which = f"（第{'、'.join(map(str, numbers))}行）" if numbers and len(numbers) == rows <= NAMED_ROWS else ""
    parts.append(f"共{rows}行{which}")
    return "，".join(parts)


# --- in the narrative's HTML -------------------------------------------------------------------------

class Registered(str):
    """A figure's sources in a narrative's register, with the number it shows (None: words, such as 1至10月)."""

    value = None


def mark(text: str, value, register: list[str]) -> str:
    """``text`` (a figure as shown) wrapped with the index of its sources in ``register``."""
    found = sources_of(value)
    if not found:
        return text
    entry = Registered("；".join(found))
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else getattr(
        value, "value", getattr(value, "now", None))  # (an Indicator says this year's figure)
    entry.value = number if isinstance(number, (int, float)) and not isinstance(number, bool) else None
    register.append(entry)
    return f"{_OPEN}{len(register) - 1}{_MID}{text}{_CLOSE}"


def spans(markup: str, register: list[str]) -> str:
    """Marked figures in HTML as ``<span class="ar-fig" data-source="…" data-value="…">``; the renderer keeps them
    in a draft, and publishes them as data (figures.csv) in any build."""
    def span(m) -> str:
        entry = register[int(m.group(1))]
        value = getattr(entry, "value", None)
        number = f' data-value="{value:g}"' if value is not None else ""
        return f'<span class="ar-fig" data-source="{html.escape(entry)}"{number}>{m.group(2)}</span>'

    return _MARKED.sub(span, markup)


def parse(source: str) -> dict:
    """The parts of a source as :func:`describe` writes it ("学前教育资助发放登记 2020，资助人次合计，共48行"): register,
    year, filters, aggregation and rows counted (the first source of several joined by "；")."""
    first = source.split("；")[0]
    parts = [p for p in first.split("，") if p and not p.startswith("列：")]  # (a table cell's column: said apart)
    if not parts:
        return {"register": "", "year": "", "filters": "", "aggregation": "", "rows": "", "row_numbers": ""}
    register, _, year = parts[0].rpartition(" ")
    rows = re.fullmatch(r"共(\d+)行(?:（第([\d、]+)行）)?", parts[-1]) if len(parts) > 1 else None
    middle = parts[1:-1] if rows else parts[1:]
    aggregation = [p for p in middle if p.endswith(("合计", "分组")) or "分组（" in p]
    return {"register": register or parts[0], "year": year if register else "", "rows": rows.group(1) if rows else "",
            "filters": "；".join(p for p in middle if p not in aggregation), "aggregation": "；".join(aggregation),
            "row_numbers": (rows.group(2) or "") if rows else ""}


def unmarked(text: str) -> str:
    """Text with the marks of figures removed (where it is not turned into HTML)."""
    return _MARKED.sub(lambda m: m.group(2), text)


def where_words(where: Mapping[str, object], labels: Mapping[str, str] | None = None) -> list[str]:
    """A filter in words: {'organiser_level': '区级'} → ['组织层级为区级']."""
    words = []
    for column, wanted in where.items():
        name = (labels or {}).get(column, column)
        if isinstance(wanted, range):
            words.append(f"{name}在{wanted.start}至{wanted.stop - 1}之间")
        elif isinstance(wanted, (list, tuple, set, frozenset)):
            words.append(f"{name}为{'、'.join(map(str, wanted))}之一")
        elif callable(wanted):
            words.append(f"{name}满足{getattr(wanted, '__name__', '条件')}")
        else:
            words.append(f"{name}为{wanted}")
    return words
