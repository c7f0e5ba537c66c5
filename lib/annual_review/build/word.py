"""The report as a Word document (.docx) that offices edit and send as it is, made from the same rendered report.

What Word, WPS and LibreOffice need to draw it as GB/T 9704 sets an official document:

* **Role fonts that take effect.** Each style names its role's font (小标宋 title, 仿宋 body, 黑体 and 楷体
  headings, the figures' face for tables) for Chinese, digits and Latin alike, with no theme-font attribute
  beside it (a theme attribute wins over a named font). The document, its styles and the theme say zh-CN,
  so a stand-in font is drawn with Simplified-Chinese glyph forms. The font table gives each role's font its
  fallbacks (``w:altName``: the stock Windows faces, then the open-licence ones), GB2312 character set,
  family and PANOSE, so Word and WPS on a machine without 仿宋_GB2312 take the next face of the same role.
* **The page**: size and margins from ``document:``, a 28 × 22 document grid (characters per line, lines per
  page), body justified with a two-character first-line indent, page numbers "— 1 —" in 4号 on the outside
  edge (odd pages right, even pages left, one character in), headings with outline levels.
* **Tables for print**: cell padding, the header row bold and repeated on every page, figures right-aligned,
  合计 bold, a unit never broken inside its brackets, rows kept together at a table's start and end.
* **Document properties** from the config: title, author and company the body, created and modified the
  build's date; no tool's name, template or thumbnail left over.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Mapping

from bs4 import BeautifulSoup, Tag

from .page import grid, page_size, text_block
from .word_tables import figure_number, table
from .word_styles import (CAPTION, PAGE_NUMBER_PT, PICTURE, TABLE_TEXT, font_table,
                          in_schema_order, length, properties_of, role_font_name, set_styles, settings)

def _page(word, document: Mapping) -> None:
    """Page size, margins and the document grid from the config; page numbers at the outside edge."""
    from docx.oxml.ns import qn
    from docx.shared import Mm

    width, height = page_size(document)
    margins = document["margins"]
    line_pitch = grid(document)[1]
    word.settings.odd_and_even_pages_header_footer = True
    for section in word.sections:
        section.page_width, section.page_height = Mm(width), Mm(height)
        section.top_margin, section.bottom_margin = length(margins["top"]), length(margins["bottom"])
        section.left_margin, section.right_margin = length(margins["left"]), length(margins["right"])
        section.footer_distance = Mm(max(0.0, length(margins["bottom"]).mm - 7 - PAGE_NUMBER_PT * 25.4 / 72))
        properties = section._sectPr
        for old in properties.findall(qn("w:docGrid")):
            properties.remove(old)
        # GB/T 9704's grid: 22 lines a page here, 28 characters a line by the body styles' character spacing. (A
        # character grid, type linesAndChars, is drawn by LibreOffice with every character a cell and a half wide.)
        properties.append(properties.makeelement(qn("w:docGrid"), {
            qn("w:type"): "lines", qn("w:linePitch"): str(round(line_pitch * 20))}))
        _page_number(section.footer.paragraphs[0], "right")
        _page_number(section.even_page_footer.paragraphs[0], "left")


def _page_number(paragraph, side: str) -> None:
    """"— 7 —" in 4号, one character in from the outside edge (GB/T 9704 §7.5)."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    paragraph.style = "Footer"
    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT if side == "right" else WD_ALIGN_PARAGRAPH.LEFT
    format_ = paragraph.paragraph_format
    format_.first_line_indent = Pt(0)
    (format_.__setattr__("right_indent", Pt(PAGE_NUMBER_PT)) if side == "right"
     else format_.__setattr__("left_indent", Pt(PAGE_NUMBER_PT)))

    def run(text: str | None = None, field: str | None = None, instruction: str | None = None) -> None:
        element = paragraph.add_run(text or "")._r
        if field:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), field)
            element.append(char)
        if instruction:
            code = OxmlElement("w:instrText")
            code.set(qn("xml:space"), "preserve")
            code.text = instruction
            element.append(code)

    run("— ")
    run(field="begin")
    run(instruction=" PAGE ")
    run(field="separate")
    run("1")
    run(field="end")
    run(" —")


def _picture(word, image: Tag, width_pt: float) -> None:
    from docx.shared import Pt

    data = base64.b64decode(image["src"].split(",", 1)[1])
    paragraph = word.add_paragraph(style=PICTURE)
    shape = paragraph.add_run().add_picture(io.BytesIO(data), width=Pt(width_pt))
    shape._inline.docPr.set("descr", image.get("alt", ""))  # alt text, read aloud by screen readers


def _draft_header(word, document: Mapping) -> None:
    """征求意见稿 at the top of every page (odd and even), in red, as the PDF's page header says it."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    for section in word.sections:
        for header in (section.header, section.even_page_header):
            paragraph = header.paragraphs[0]
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            run = paragraph.add_run("征求意见稿")
            run.font.size, run.font.color.rgb = Pt(10.5), RGBColor(0xBB, 0, 0)
            run.font.name = role_font_name(document, "heading1")


def _sources_table(word, table: Tag, marks: "Marks") -> None:
    """A draft's sources appendix as a compact Word table in the tables' style."""
    rows = [[c.get_text(" ", strip=True) for c in row.find_all(["th", "td"])] for row in table.find_all("tr")]
    if not rows:
        return
    grid = word.add_table(rows=len(rows), cols=max(len(r) for r in rows), style="Table Grid")
    for i, row in enumerate(rows):
        for j, text in enumerate(row):
            paragraph = grid.cell(i, j).paragraphs[0]
            paragraph.style = word.styles[TABLE_TEXT]
            run = paragraph.add_run(text)
            run.bold = i == 0
            if i and j == 0 and text.isdigit():  # where each figure's number links to
                marks.bookmark(paragraph, f"src_{text}")


ANCHOR = "ar_"  # a bookmark on a paragraph from a narrative: ar_<file's hash>_<line>
FIGURE = "arf_"  # a bookmark on a figure from data in a draft: arf_<n>, its source in the document's properties
FIGURES_PROPERTY = "annual-review-figures"  # {bookmark: source} as JSON, a custom document property


def anchor_name(where: str) -> str:
    """The bookmark of a narrative block ``<year>/narrative/<name>.md:<line>``: letters, digits and _ only (as Word
    and WPS keep bookmark names), and self-describing, so nothing else need survive a reviewer's edits."""
    import hashlib

    path, line = where.rsplit(":", 1)
    return f"{ANCHOR}{hashlib.sha1(path.encode('utf-8')).hexdigest()[:8]}_{int(line)}"


class Marks:
    """The review round trip's marks in a draft's Word version: a bookmark on each paragraph that came from a
    narrative (its file and line) and on each figure from data (its source). Published reports carry none: their
    HTML has no ``data-anchor`` and no figure sources."""

    def __init__(self, when: dt.datetime | None = None):
        self.next_id, self.figures = 1, {}
        self.when = (when or dt.datetime.now().astimezone()).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _tracked(self, paragraph, kind: str, text: str) -> None:
        """A redline's mark as Word's tracked change: ``ins`` or ``del``, by "修订标记" at the build's time."""
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

        run = paragraph.add_run(text)._r
        if kind == "del":
            for t in run.findall(qn("w:t")):
                t.tag = qn("w:delText")
        change = OxmlElement(f"w:{kind}")
        change.set(qn("w:id"), str(self.next_id))
        change.set(qn("w:author"), "修订标记")
        change.set(qn("w:date"), self.when)
        self.next_id += 1
        run.addprevious(change)
        change.append(run)

    def bookmark(self, paragraph, name: str, first=None, last=None) -> None:
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn

        start, end = OxmlElement("w:bookmarkStart"), OxmlElement("w:bookmarkEnd")
        start.set(qn("w:id"), str(self.next_id))
        start.set(qn("w:name"), name)
        end.set(qn("w:id"), str(self.next_id))
        self.next_id += 1
        if first is None:  # the whole paragraph
            properties = paragraph._p.pPr
            (properties.addnext(start) if properties is not None else paragraph._p.insert(0, start))
            paragraph._p.append(end)
        else:
            first._r.addprevious(start)
            last._r.addnext(end)

    def anchor(self, paragraph, element: Tag) -> None:
        where = element.get("data-anchor")
        if where and ":" in where:
            self.bookmark(paragraph, anchor_name(where))

    def fill(self, paragraph, element: Tag) -> None:
        """The element's text as runs (as ``get_text(strip=True)`` reads it), each figure from data its own run."""
        pending: list[str] = []
        for piece in element.find_all(string=True):
            text = piece.strip()
            if not text:
                continue
            figure = piece.find_parent("span", class_="ar-fig")
            change = piece.find_parent(["ins", "del"])
            if piece.find_parent(class_="ar-fig-ref") is not None:  # a draft's figure number: superscript
                if pending:
                    paragraph.add_run("".join(pending))
                    pending = []
                figure_number(paragraph, text)
            elif change is not None and element in change.parents:  # a redline's mark: a tracked change
                if pending:
                    paragraph.add_run("".join(pending))
                    pending = []
                self._tracked(paragraph, change.name, text)
            elif figure is not None and figure.get("id", "").startswith("fig-") and element in figure.parents:
                if pending:
                    paragraph.add_run("".join(pending))
                    pending = []
                run = paragraph.add_run(text)
                name = f"{FIGURE}{figure['id'][4:]}"
                self.figures[name] = figure.get("title", "").removeprefix("数据来源：")
                self.bookmark(paragraph, name, run, run)
            else:
                pending.append(text)
        if pending:
            paragraph.add_run("".join(pending))

    def save(self, word) -> None:
        """The figures' sources as a custom document property (Word, WPS and LibreOffice keep it)."""
        if not self.figures:
            return
        import json
        from xml.sax.saxutils import escape

        from docx.opc.packuri import PackURI
        from docx.opc.part import Part

        value = escape(json.dumps(self.figures, ensure_ascii=False))
        xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns="http://schemas.openxmlformats'
               '.org/officeDocument/2006/custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
               'docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="'
               f'{FIGURES_PROPERTY}"><vt:lpwstr>{value}</vt:lpwstr></property></Properties>')
        part = Part(PackURI("/docProps/custom.xml"), "application/vnd.openxmlformats-officedocument.custom-properties+xml",
                    xml.encode("utf-8"), word.part.package)
        word.part.package.relate_to(part, "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
                                          "custom-properties")


def docx_bytes(report_html: str, document: Mapping | None = None, *, author: str = "", language: str = "zh-CN",
               built: dt.datetime | None = None) -> bytes:
    """The rendered report (its HTML) as an editable Word document, laid out as ``document`` says.

    ``author`` (the body) is the document's author and company; ``built`` its created and modified date.
    """
    import docx

    from ..core.config import DEFAULT_DOCUMENT

    document = {**DEFAULT_DOCUMENT, **(document or {})}
    built = built or dt.datetime.now().astimezone()
    soup = BeautifulSoup(report_html, "html.parser")
    word = docx.Document()
    set_styles(word, document, language)
    _page(word, document)
    width_pt = text_block(document)[0]
    mark = soup.find(class_="ar-draft-mark")
    if mark:
        word.add_paragraph(mark.get_text(strip=True), style=CAPTION)
        _draft_header(word, document)
    title = soup.find("h1")
    title_text = title.get_text(strip=True)
    word.add_paragraph(title_text, style="Title")
    main = soup.find("main")
    marks = Marks(built)
    for element in main.find_all(["h2", "h3", "h4", "h5", "h6", "p", "figure", "li", "table"]):
        if element.find_parent("figure") is not None:
            continue  # a table's note or a chart's caption: written with its figure
        if element.name == "table":
            if "ar-sources-table" in (element.get("class") or []):
                _sources_table(word, element, marks)
            continue
        if element.name.startswith("h"):
            marks.anchor(word.add_heading(element.get_text(strip=True), level=int(element.name[1]) - 1), element)
        elif element.name in ("p", "li"):
            paragraph = word.add_paragraph()
            marks.fill(paragraph, element)
            marks.anchor(paragraph, element)
        elif "ar-table" in element.get("class", []):
            table(word, element, document)
        elif element.find("img") is not None:
            _picture(word, element.find("img"), width_pt)
            caption = element.find("figcaption")
            if caption:
                word.add_paragraph(caption.get_text(strip=True), style=CAPTION)
    footer = soup.find("footer")
    if footer:
        for line in footer.find_all("p"):
            word.add_paragraph(line.get_text(strip=True))
    properties_of(word, title_text, author, built, language)
    marks.save(word)
    for part in (word.styles.element, word.element, *(s.footer._element for s in word.sections),
                 *(s.even_page_footer._element for s in word.sections)):
        in_schema_order(part)
    settings(word, language)
    font_table(word, document, language)
    buffer = io.BytesIO()
    word.save(buffer)
    return buffer.getvalue()
