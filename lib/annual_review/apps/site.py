"""The city site: every report of a workspace found from one search page, and the indicators bodies share.

The workspace build writes it beside the city index (``<output-dir>/``):

- ``search.html`` and ``pagefind/``: a search over every report built — each part's text (charts by their
  words), every figure as ``figures.json`` lists it (its label, the figure as printed, the number) and each body's
  name and report title — with filters by body (单位), year (年度) and part (部分). The index is made by
  Pagefind's Python package: static files the reader's browser searches, nothing sent anywhere; the page loads
  only files of the site (its policy allows no other address).
- ``indicators.html``, ``indicators.csv`` (UTF-8 with a BOM, for Excel and WPS) and ``indicators/<n>.png``: each
  headline indicator the bodies share, every body and year, as a chart in the reports' style and as a table.

A reader opens the site from a web server (the intranet's, or ``python -m http.server`` in the folder): a
browser does not let a page opened as a file read the search index, and the search page says so.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..build.index import Cell, Table, index_page
from ..core.files import write_atomic
from ..core.numbers import whole
from ..build.opendata import JSON_FILE
from ..core.outputs import REPORT_FILE
from ..core.web import policy

SEARCH_PAGE, SEARCH_SCRIPT, BUNDLE = "search.html", "search.js", "pagefind"
INDICATORS_PAGE, INDICATORS_CSV, INDICATORS_DIR = "indicators.html", "indicators.csv", "indicators"
INDICATOR_FIELDS = ("body", "year", "indicator", "value", "unit")
# The site's pages load their own files only: the search page its script and the index it reads.
SITE_POLICY = ("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; worker-src 'self'; "
               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; base-uri 'none'; "
               "form-action 'none'")
PAGES_POLICY = policy(site_images=True)  # the indicators page: the reports' policy, its charts files of the site


@dataclass(frozen=True)
class Record:
    """One entry of the search: where it leads, its words, its title in the results, its filters."""

    url: str
    content: str
    title: str
    filters: Mapping[str, list[str]]


def report_records(body: str, year: int, folder: Path, href: str, title: str) -> list[Record]:
    """The search entries of one built report: the report itself (its body and title), each part, each figure."""
    from lxml import html as lxml_html

    page = lxml_html.fromstring((folder / REPORT_FILE).read_bytes())
    base = {"单位": [body], "年度": [str(year)]}
    records = [Record(f"{href}/{REPORT_FILE}", f"{body} {title}", f"{body} · {year}年 · {title}", base)]
    anchors: dict[str, str] = {}
    for section in page.xpath("//section[@data-section]"):
        heading = next(iter(section.xpath("./h2|./h3|./h4|./h5|./h6")), None)
        name = " ".join(heading.text_content().split()) if heading is not None else title
        anchor = heading.get("id", "") if heading is not None else ""
        anchors.setdefault(name, anchor)
        words = []
        for child in section:  # its own text: a part inside it is an entry of its own
            if child.tag == "section" or child is heading:
                continue
            words.append(child.text_content())
            words += [image.get("alt", "") for image in child.iter("img")]  # a chart, as its words say it
        text = " ".join(" ".join(words).split())
        if text:
            records.append(Record(f"{href}/{REPORT_FILE}" + (f"#{anchor}" if anchor else ""), text,
                                  f"{body} · {year}年 · {name}", {**base, "部分": [name]}))
    figures = folder / JSON_FILE
    if figures.is_file():
        for figure in json.loads(figures.read_text(encoding="utf-8")).get("figures", []):
            section = str(figure.get("section") or title)
            printed, value = str(figure.get("printed", "")), str(figure.get("value", ""))
            label = str(figure.get("label", ""))
            words = " ".join(dict.fromkeys(w for w in (label, printed, value, str(figure.get("unit", "")),
                                                       str(figure.get("source", ""))) if w))
            anchor = anchors.get(section, "")
            records.append(Record(f"{href}/{REPORT_FILE}" + (f"#{anchor}" if anchor else ""), words,
                                  f"{body} · {year}年 · {label or section}：{printed or value}", {**base, "部分": [section]}))
    return records


def write_search_index(output_dir: Path, records: list[Record], language: str) -> None:
    """The search bundle (``pagefind/``) for ``records`` (the page that searches it: :func:`write_search_page`).

    Each record becomes a small page of its own in a folder beside (its words, its title and where it leads as
    metadata, its filters), which Pagefind's program indexes in one run; the bundle is then put in place whole.
    """
    import shutil
    import subprocess
    import tempfile

    from pagefind.service import get_executable

    program = get_executable()
    if program is None:
        raise FileNotFoundError("Pagefind's program is not installed (pip install 'pagefind[extended]')")
    staging = Path(tempfile.mkdtemp(prefix=".search-", dir=output_dir))
    try:
        pages = staging / "pages"
        pages.mkdir()
        for n, record in enumerate(records):
            (pages / f"{n}.html").write_text(_record_page(record, language), encoding="utf-8")
        done = subprocess.run([str(program), "--site", str(pages), "--output-path", str(staging / BUNDLE)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode or not (staging / BUNDLE / "pagefind.js").is_file():
            raise RuntimeError(f"Pagefind failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-500:]}")
        target, old = output_dir / BUNDLE, output_dir / f".{BUNDLE}-old"
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        (staging / BUNDLE).rename(target)  # a reader never meets half an index
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_search_page(output_dir: Path, entries: int, language: str, *, indicators: bool) -> None:
    """``search.html`` and its script, linking the indicators' page when there is one."""
    from importlib import resources

    import jinja2

    site = resources.files("annual_review").joinpath("templates/site")
    write_atomic(output_dir / SEARCH_SCRIPT, site.joinpath(SEARCH_SCRIPT).read_text(encoding="utf-8"))
    template = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
        site.joinpath("search.html.j2").read_text(encoding="utf-8"))
    write_atomic(output_dir / SEARCH_PAGE, template.render(csp=SITE_POLICY, lang=language, bundle=BUNDLE,
                                                           script=SEARCH_SCRIPT, count=entries,
                                                           indicators=INDICATORS_PAGE if indicators else ""))


def _record_page(record: Record, language: str) -> str:
    """One search entry as the page Pagefind reads: its words, its title and address as metadata, its filters."""
    from html import escape

    filters = "".join(f'<span data-pagefind-filter="{escape(name)}">{escape(value)}</span>'
                      for name, values in record.filters.items() for value in values)
    return (f'<!DOCTYPE html><html lang="{escape(language)}"><head><meta charset="utf-8"><title>{escape(record.title)}'
            f'</title></head><body><main data-pagefind-body><h1 data-pagefind-meta="title">{escape(record.title)}</h1>'
            f'<div data-pagefind-ignore><span data-pagefind-meta="target">{escape(record.url)}</span>{filters}</div>'
            f"<p>{escape(record.content)}</p></main></body></html>")


def indicator_rows(values_by_year: Mapping[int, Mapping[str, Mapping[str, tuple[float, str]]]]) -> list[dict]:
    """Every shared indicator's value for each body and year, as ``indicators.csv`` lists them."""
    rows = []
    for year in sorted(values_by_year):
        for body, values in values_by_year[year].items():
            for indicator, (value, unit) in values.items():
                rows.append({"body": body, "year": year, "indicator": indicator, "value": number(value), "unit": unit})
    return rows


def remove_indicators(output_dir: Path) -> None:
    """The indicators' page, table and charts of an earlier build, when no indicator is shared any more."""
    import shutil

    for name in (INDICATORS_PAGE, INDICATORS_CSV):
        (output_dir / name).unlink(missing_ok=True)
    shutil.rmtree(output_dir / INDICATORS_DIR, ignore_errors=True)


def write_indicators(output_dir: Path, rows: list[dict], order: list[str], log: Callable[[str], None],
                     searchable: bool = True) -> list[str]:
    """``indicators.csv``, a chart per indicator and the page showing them; the indicators charted."""
    import pandas as pd

    from ..notebook import charts
    from ..core.exceptions import ChartError

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=INDICATOR_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(output_dir / INDICATORS_CSV, buffer.getvalue().encode("utf-8-sig"))
    folder = output_dir / INDICATORS_DIR
    folder.mkdir(exist_ok=True)
    table = pd.DataFrame(rows, columns=list(INDICATOR_FIELDS))
    tables, drawn, written = [], [], set()
    years = sorted(table["year"].unique()) if len(table) else []
    for n, indicator in enumerate(order, 1):
        these = table[table["indicator"] == indicator]
        if these.empty:
            continue
        unit = str(these["unit"].iloc[-1])
        bodies = list(dict.fromkeys(these["body"]))
        image = ()
        try:
            frame = these.assign(年度=[f"{y}年" for y in these["year"]], value=these["value"].astype(float))
            fig = charts.bar_chart(frame, x="body", y="value", group="年度", title=f"{indicator}（各单位、各年度）",
                                   value_label=indicator, unit=unit, horizontal=len(bodies) > 4)
            name = f"{n:02d}.png"
            write_atomic(folder / name, charts.figure_png(fig))
            written.add(name)
            image = (f"{INDICATORS_DIR}/{name}", fig.alt)
            drawn.append(indicator)
            import matplotlib.pyplot as plt

            plt.close(fig)
        except ChartError as exc:  # the table still shows it; the chart's problem is said
            log(f"note: {INDICATORS_PAGE}: the chart of '{indicator}' was not drawn: {exc}")
        lines = []
        for body in bodies:
            mine = these[these["body"] == body].set_index("year")["value"]
            lines.append([Cell(body, header=True), *(Cell(str(mine[y]) if y in mine.index else "—", kind="num")
                                                      for y in years)])
        tables.append(Table(f"{indicator}（{unit}）", ("单位", *(f"{y}年" for y in years)), lines, image=image))
    for stale in folder.glob("*.png"):  # an indicator no longer shared: its old chart goes
        if stale.name not in written:
            stale.unlink()
    intro = f"各单位共有的主要指标，逐年对比。数据下载：{INDICATORS_CSV}（UTF-8，Excel、WPS可直接打开）。"
    write_atomic(output_dir / INDICATORS_PAGE, index_page(
        "各单位主要指标对比", tables, intro=intro, width=64, csp=PAGES_POLICY,
        nav=(("汇总首页", "index.html"), *((("搜索", SEARCH_PAGE),) if searchable else ()), ("下载CSV", INDICATORS_CSV))))
    return drawn


def number(value: float) -> str:
    """A figure as the city's pages write it: 29, 2618, 12.5 (never 29.0)."""
    return str(whole(float(value))) if isinstance(whole(float(value)), int) else f"{value:g}"
