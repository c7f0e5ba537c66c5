"""Assembling executed section notebooks into one self-contained HTML report with nbconvert.

Only the elements a notebook showed with :mod:`annual_review.notebook.elements` enter the
report; code, prompts, printed output and stray results stay in the executed
notebooks. Headings are numbered here, once for the whole report, in the styles
the config names (一、 （一） …), so sections and their narratives agree.
"""

from __future__ import annotations

import copy
import functools
import html
import datetime as dt
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup

from ..core.config import ReportConfig, Section, heading_number
from ..notebook.elements import MARKER, NOTE
from ..core.fonts import embedded_font_css
from ..core.web import CONTENT_SECURITY_POLICY
from .opendata import CSV_FILE, JSON_FILE, records

TEMPLATE_DIR = resources.files("annual_review") / "templates"
TEMPLATE_NAME = "report"
MAX_LEVEL = 5  # h1 is the title; levels 1..5 map to h2..h6


@dataclass
class _Counter:
    numbering: tuple[str, ...]
    counts: list[int]

    def next(self, level: int) -> str:
        self.counts[level] += 1
        for deeper in range(level + 1, len(self.counts)):
            self.counts[deeper] = 0
        return heading_number(self.numbering, level, self.counts[level])


def _marked(notebook: nbformat.NotebookNode):
    for cell in notebook.cells:
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if output.get("output_type") == "display_data" and MARKER in output.get("metadata", {}):
                    yield output


def report_outputs(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The outputs a section notebook showed for the report, in order."""
    return [copy.deepcopy(o) for o in _marked(notebook) if o["metadata"][MARKER].get("element") != NOTE]


def section_notes(notebook: nbformat.NotebookNode) -> list[str]:
    """What a section told the build (:func:`annual_review.notebook.elements.tell`), for the build to print."""
    return [str(o.get("data", {}).get("text/plain", "")) for o in _marked(notebook) if o["metadata"][MARKER].get("element") == NOTE]


def _number_narrative(output, section: Section, counter: _Counter, anchor_prefix: str) -> None:
    markup = output["data"].get("text/html")
    if not markup or "ar-heading" not in markup:
        return
    soup = BeautifulSoup(markup, "html.parser")
    for i, tag in enumerate(soup.select(".ar-heading[data-depth]"), 1):
        level = min(section.level + int(tag["data-depth"]), MAX_LEVEL)
        tag.name = f"h{level + 1}"
        tag.insert(0, counter.next(level))
        tag["id"] = f"{anchor_prefix}-{i}"
        del tag["data-depth"]
    output["data"]["text/html"] = str(soup)


def assemble(
    config: ReportConfig,
    year: int,
    executed: dict[str, nbformat.NotebookNode],
    failed: dict[str, str] | None = None,
):
    """One notebook holding, section by section, the report's headings and elements; and its contents list."""
    counter = _Counter(config.numbering, [0] * (MAX_LEVEL + 2))
    cells, toc = [], []
    for section in config.all_sections():
        anchor = f"s-{section.id}"
        heading = None
        if section.heading:
            number = counter.next(section.level) if section.numbered else ""
            heading = {"number": number, "text": config.heading(section, year), "level": min(section.level, MAX_LEVEL),
                       "id": anchor}
            toc.append(heading)
        if section.id in (failed or {}):
            notice = html.escape(failed[section.id])
            kind = "ar-unfinished" if "待填写" in failed[section.id] else "ar-failed"
            outputs = [nbformat.v4.new_output("display_data", data={"text/html": f'<p class="{kind}" role="alert">{notice}</p>'},
                                              metadata={MARKER: {"element": "failure"}})]
        else:
            outputs = report_outputs(executed[section.id]) if section.notebook else []
        for output in outputs:
            _number_narrative(output, section, counter, anchor)
        cell = nbformat.v4.new_code_cell(source="")
        cell.metadata[MARKER] = {"section": section.id, "heading": heading}
        cell.outputs = outputs
        cells.append(cell)
    combined = nbformat.v4.new_notebook(cells=cells)
    combined.metadata["title"] = config.title(year)
    return combined, toc


def document_css(document: dict) -> str:
    """The report's fonts by role and the printed page, from the config's ``document`` settings (after GB/T 9704):
    the page and its margins, the grid (characters a line, lines a page), page numbers at the outside edge."""
    from ..core.fonts import css_families
    from .page import grid, page_name, points

    margins = document["margins"]
    char_pitch, line_pitch = grid(document)
    body = points(document["body_size"])
    size = page_name(document)
    margin = f'{margins["top"]} {margins["right"]} {margins["bottom"]} {margins["left"]}'
    number = ('content: "— " counter(page) " —"; font-size: 14pt; font-family: var(--body-font); '
              "vertical-align: top; padding-top: 7mm;")
    return f"""
:root {{
  --title-font: {css_families(document, "title")};
  --body-font: {css_families(document, "body")};
  --h1-font: {css_families(document, "heading1")};
  --h2-font: {css_families(document, "heading2")};
  --figure-font: {css_families(document, "figures")};
}}
@page {{ size: {document["page"]}; margin: {margin}; }}
@page :right {{ @bottom-right {{ {number} padding-right: 14pt; }} }}
@page :left {{ @bottom-left {{ {number} padding-left: 14pt; }} }}
@page landscape {{ size: {size} landscape; margin: {margin}; }}
@media print {{
  html {{ font-size: {document["body_size"]}; }}
  body {{ line-height: {line_pitch:.3f}pt; }}
  .ar-title h1 {{ font-size: {document["title_size"]}; }}
  main p, main li, main h2, main h3, main h4, main h5, main h6 {{
    margin: 0; line-height: {line_pitch:.3f}pt; letter-spacing: {char_pitch - body:.3f}pt; text-indent: {2 * char_pitch:.3f}pt;
  }}
}}
"""


@functools.cache
def _exporter():
    """The report's nbconvert exporter, its templates compiled once per process."""
    from nbconvert.exporters import HTMLExporter

    return HTMLExporter(
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        template_name=TEMPLATE_NAME,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def prepare() -> None:
    """Pay rendering's one-time costs now (imports, template compilation, selector parsing), say while sections run."""
    _exporter().template  # noqa: B018 - loading compiles the templates
    BeautifulSoup('<h3 class="ar-heading" data-depth="1">x</h3>', "html.parser").select(".ar-heading[data-depth]")
    for minor in (4, 5):  # the notebook schema's validators, compiled on first use (reading the executed notebooks)
        empty = nbformat.v4.new_notebook()
        empty.nbformat_minor = minor
        nbformat.validate(empty)


def render_report(
    config: ReportConfig,
    year: int,
    executed: dict[str, nbformat.NotebookNode],
    *,
    provenance: str = "",
    data_notes: list[str] | tuple[str, ...] = (),
    built_at: dt.datetime | None = None,
    failed: dict[str, str] | None = None,
    cache_dir: Path | None = None,
    draft: bool = False,
    figures: list | None = None,
) -> str:
    """The report for ``year`` as one self-contained HTML page (charts embedded, nothing fetched).

    Final (the default): nothing but the report and its data's provenance notes; how it was
    built (``provenance``: tool, version, commit, time) is kept in a ``<meta>`` and a comment.
    ``draft``: a visible 征求意见稿 mark with the build time, each figure from data showing its
    source on hover, and an appendix listing every figure's source.
    """
    combined, toc = assemble(config, year, executed, failed)
    exporter = _exporter()
    built_at = built_at or dt.datetime.now().astimezone()
    report = {
        "title": config.title(year),
        "author": config.body,
        "lang": config.language,
        "toc": toc,
        "css": (TEMPLATE_DIR / TEMPLATE_NAME / "report.css").read_text(encoding="utf-8")
        + document_css(config.document),
        "built_at": built_at.strftime("%Y-%m-%d %H:%M"),
        "built_with": provenance.replace("--", "—"),  # (inside an HTML comment)
        "data_notes": list(data_notes),
        "csp": CONTENT_SECURITY_POLICY,
        "draft": draft,
        "dataset": dataset_json_ld(config, year, built_at) if config.dataset_metadata else "",
    }
    body, _ = exporter.from_notebook_node(combined, resources={"report": report})
    soup = BeautifulSoup(body, "html.parser")  # (parsed once: the figures' sources, then the reader's touches)
    _figure_sources(soup, draft, figures)
    _for_readers(soup)
    body = str(soup)
    # Carry the Chinese glyphs the page uses, so it reads right where no Chinese font is installed.
    return body.replace("/*@font-face*/", embedded_font_css(body, cache_dir=cache_dir, document=config.document), 1)


def dataset_json_ld(config: ReportConfig, year: int, built_at: dt.datetime) -> str:
    """The report's figures as a schema.org ``Dataset`` (JSON-LD, for the head): who, which year, the two files.
    Data for search engines and catalogues, never run: a script of this type is not a program, and the page's
    policy runs none. ``<`` is written \\u003c, so no text can close the element."""
    import json

    title = config.title(year)
    dataset = {
        "@context": "https://schema.org", "@type": "Dataset", "name": f"{title}：数据",
        "description": f"{title}发布的每个数字及其来源（登记表、年度、筛选条件、汇总方式、计入行数）",
        "creator": {"@type": "GovernmentOrganization", "name": config.body}, "inLanguage": config.language,
        "temporalCoverage": str(year), "dateModified": built_at.date().isoformat(), "isAccessibleForFree": True,
        "distribution": [{"@type": "DataDownload", "encodingFormat": "text/csv", "contentUrl": CSV_FILE},
                         {"@type": "DataDownload", "encodingFormat": "application/json", "contentUrl": JSON_FILE}],
    }
    return json.dumps(dataset, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


def _for_readers(soup: BeautifulSoup) -> None:
    """A title and table labels that break between words (BudouX), every table and chart with an id, and each chart a
    link to itself, so a reader on a phone taps it to see it at full size (no script: the page allows none)."""
    for n, figure in enumerate(soup.select("figure.ar-table"), 1):
        figure["id"] = f"t-{n}"
    for n, figure in enumerate(soup.select("figure.ar-chart"), 1):
        ident = f"c-{n}"
        figure["id"] = ident
        image = figure.find("img")
        if image is not None and image.parent.name != "a":  # (the browser's Back returns it to the column's width)
            image.wrap(soup.new_tag("a", attrs={"class": "ar-zoom", "href": f"#{ident}"}))
    for words in soup.select(".ar-title h1, .ar-table th, .ar-table td.ar-text"):
        _break_between_words(soup, words)


@functools.cache
def _phrases():
    import budoux

    return budoux.load_default_simplified_chinese_parser()


SHORT = 6  # a label this short (已完成, 2020年) is never broken at all


def _break_between_words(soup, element) -> None:
    """Let lines break inside ``element``'s text only between words (法治, never 法/治): each word a span that is
    never broken (browsers and WeasyPrint alike; ``word-break: keep-all`` leaves 2020/年 breakable in WeasyPrint)."""
    from bs4 import NavigableString

    for text in [t for t in element.find_all(string=True) if isinstance(t, NavigableString) and t.strip()]:
        chinese = any("\u2e80" <= c <= "\u9fff" or "\uf900" <= c <= "\uffef" for c in text)
        # A short label, or a code such as XZ2021-001, stays whole; Chinese text breaks between its words.
        chunks = _phrases().parse(str(text)) if chinese and len(text) > SHORT else [str(text)]
        for i, chunk in enumerate(chunks):
            if i:  # (between the spans, or WeasyPrint's tables take the whole label as one unbreakable word)
                text.insert_before(soup.new_tag("wbr"))
            word = soup.new_tag("span", attrs={"class": "ar-w"})
            word.string = chunk
            text.insert_before(word)
        text.extract()


def _figure_sources(soup: BeautifulSoup, draft: bool, figures: list | None = None) -> None:
    """Drafts show each figure's source (hover, and an appendix) and keep each paragraph's narrative file and line
    (``data-anchor``, for the review round trip); the published report shows none of it. ``figures`` gets every
    figure as data (figures.csv), numbered as the draft's appendix numbers them."""
    marked = soup.select("[data-source]")
    found = records(marked)
    if figures is not None:
        figures += found
    if not draft:
        for element in marked:
            if element.name == "span":
                element.unwrap()
            else:
                del element["data-source"]
        for element in soup.select("[data-anchor]"):  # where each paragraph's words come from: the draft's only
            del element["data-anchor"]
        for element in soup.select("[data-value]"):
            del element["data-value"]
        return
    items = []
    for n, (element, record) in enumerate(zip(marked, found), 1):
        source = record["source"]  # (a table cell's names its column)
        element["title"] = f"数据来源：{source}"
        element["id"] = f"fig-{n}"
        del element["data-source"]
        if element.has_attr("data-value"):
            del element["data-value"]
        if "ar-fig" not in element.get("class", []):
            element["class"] = [*element.get("class", []), "ar-fig"]
        picture = element.find("img") if element.name == "figure" else None
        shown = ("图：" + picture.get("alt", "").split("。")[0]) if picture is not None else element.get_text(" ", strip=True)
        items.append((n, shown, source))
        # Its number, a small superscript linking to its entry in the appendix (in the PDF and Word versions too).
        ref = soup.new_tag("sup", attrs={"class": "ar-fig-ref"})
        link = soup.new_tag("a", href=f"#src-{n}", attrs={"aria-label": f"数据来源{n}"})
        link.string = str(n)
        ref.append(link)
        element.append(ref) if element.name in ("td", "th", "figure") else element.insert_after(ref)
    appendix = soup.new_tag("section", attrs={"class": "ar-sources", "aria-label": "数据来源"})
    heading = soup.new_tag("h2")
    heading.string = "附：数据来源（征求意见稿）"
    appendix.append(heading)
    table = soup.new_tag("table", attrs={"class": "ar-sources-table"})
    head = soup.new_tag("thead")
    row = soup.new_tag("tr")
    for label in ("序号", "数字", "来源（登记表 年度，筛选，汇总，计入行数）"):
        cell = soup.new_tag("th", scope="col")
        cell.string = label
        row.append(cell)
    head.append(row)
    table.append(head)
    body = soup.new_tag("tbody")
    for n, text, source in items:
        row = soup.new_tag("tr", id=f"src-{n}")
        number, figure, where = soup.new_tag("td"), soup.new_tag("td"), soup.new_tag("td")
        link = soup.new_tag("a", href=f"#fig-{n}")
        link.string = str(n)
        number.append(link)
        figure.string, where.string = text, source
        row.extend([number, figure, where])
        body.append(row)
    table.append(body)
    appendix.append(table)
    main = soup.find("main")
    if main is not None:
        main.append(appendix)
