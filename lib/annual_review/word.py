"""The report as a Word document (.docx) that staff can edit, made from the same rendered report.

Headings use Word's own heading styles (so the navigation pane in Word and WPS works),
tables are Word tables, charts are pictures with their alt text. Page size, margins,
fonts by role and sizes come from the config's ``document:`` (after GB/T 9704), with
the page number in the footer (— 1 —). Body text has the exact 28 pt line spacing of
official documents; pictures, captions and table cells have styles of their own with
automatic spacing, so a chart is never cut to a 28 pt strip.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Mapping

from bs4 import BeautifulSoup, Tag

MAX_PICTURE_WIDTH_CM = 15.5
PAGES_MM = {"A3": (297, 420), "A4": (210, 297), "A5": (148, 210), "B4": (250, 353), "B5": (176, 250),
            "letter": (215.9, 279.4), "legal": (215.9, 355.6)}
PICTURE, CAPTION, TABLE_TEXT = "Picture", "Caption", "Table Text"


def _length(text: str):
    """A CSS length from the config (16pt, 37mm, 2.5cm) as a python-docx length."""
    from docx.shared import Cm, Inches, Mm, Pt

    number, unit = float(re.match(r"[\d.]+", str(text)).group()), re.sub(r"[\d.]+", "", str(text))
    return {"pt": Pt, "mm": Mm, "cm": Cm, "in": Inches, "px": lambda n: Pt(n * 0.75)}.get(unit, Pt)(number)


def _fonts(style_or_run, font: str) -> None:
    """The role's font for Chinese and for the digits and Latin letters among it alike."""
    from docx.oxml.ns import qn

    properties = style_or_run.element.get_or_add_rPr()
    fonts = properties.find(qn("w:rFonts"))
    if fonts is None:
        fonts = properties.makeelement(qn("w:rFonts"), {})
        properties.append(fonts)
    for attribute in ("w:eastAsia", "w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attribute), font)


def role_font_name(document: Mapping, role: str) -> str:
    """The font a role names first in the config (Word substitutes on machines without it)."""
    from .fonts import preferred

    return preferred(document, role)[0]


def _set_styles(word, document: Mapping) -> None:
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.shared import Pt, RGBColor

    body_size = _length(document["body_size"])
    normal = word.styles["Normal"]
    normal.font.size = body_size
    _fonts(normal, role_font_name(document, "body"))
    normal.paragraph_format.first_line_indent = Pt(body_size.pt * 2)
    normal.paragraph_format.line_spacing = _length(document["line_height"])  # exact, as official documents set it
    title = word.styles["Title"]
    title.font.size, title.font.bold, title.font.color.rgb = _length(document["title_size"]), False, RGBColor(0, 0, 0)
    _fonts(title, role_font_name(document, "title"))
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.first_line_indent = Pt(0)
    for border in title.element.xpath("./w:pPr/w:pBdr"):  # Word's default title is underlined by a blue rule
        border.getparent().remove(border)
    for level in range(1, 6):
        style = word.styles[f"Heading {level}"]
        style.font.size, style.font.bold, style.font.color.rgb = body_size, False, RGBColor(0, 0, 0)
        _fonts(style, role_font_name(document, {1: "heading1", 2: "heading2"}.get(level, "body")))
        style.paragraph_format.first_line_indent = Pt(body_size.pt * 2)
        style.paragraph_format.keep_with_next = True
    figure_font = role_font_name(document, "figures")
    for name, size in ((PICTURE, None), (CAPTION, 12), (TABLE_TEXT, 12)):
        style = word.styles[name] if name in [s.name for s in word.styles] else word.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = normal
        style.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE  # automatic: a picture keeps its height
        style.paragraph_format.first_line_indent = Pt(0)
        style.paragraph_format.space_before = Pt(0)
        style.paragraph_format.space_after = Pt(0 if name == TABLE_TEXT else 6)
        if size:
            style.font.size = Pt(size)
            style.font.italic, style.font.color.rgb = False, RGBColor(0, 0, 0)
            _fonts(style, figure_font)
        if name != TABLE_TEXT:
            style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
        style.paragraph_format.keep_with_next = name == PICTURE


def _page(word, document: Mapping) -> None:
    """Page size and margins from the config, and the page number (— 1 —) in every page's footer."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    size, _, orientation = str(document["page"]).partition(" ")
    width, height = PAGES_MM[size]
    if orientation == "landscape":
        width, height = height, width
    margins = document["margins"]
    for section in word.sections:
        section.page_width, section.page_height = Mm(width), Mm(height)
        section.top_margin, section.bottom_margin = _length(margins["top"]), _length(margins["bottom"])
        section.left_margin, section.right_margin = _length(margins["left"]), _length(margins["right"])
        footer = section.footer.paragraphs[0]
        footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
        footer.paragraph_format.first_line_indent = Pt(0)
        footer.add_run("— ")
        field = OxmlElement("w:fldSimple")
        field.set(qn("w:instr"), "PAGE")
        run = OxmlElement("w:r")
        text = OxmlElement("w:t")
        text.text = "1"
        run.append(text)
        field.append(run)
        footer._p.append(field)
        footer.add_run(" —")
        for run in footer.runs:
            run.font.size = Pt(14)


def _picture(word, image: Tag) -> None:
    from docx.shared import Cm

    data = base64.b64decode(image["src"].split(",", 1)[1])
    paragraph = word.add_paragraph(style=PICTURE)
    shape = paragraph.add_run().add_picture(io.BytesIO(data), width=Cm(MAX_PICTURE_WIDTH_CM))
    shape._inline.docPr.set("descr", image.get("alt", ""))  # alt text, read aloud by screen readers


def _table(word, figure: Tag) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    caption = figure.find("caption")
    if caption:
        word.add_paragraph(caption.get_text(strip=True), style=CAPTION).paragraph_format.keep_with_next = True
    rows = figure.find_all("tr")
    cells = [[c.get_text(strip=True) for c in row.find_all(["th", "td"])] for row in rows]
    table = word.add_table(rows=len(cells), cols=max(len(r) for r in cells), style="Table Grid")
    for i, row in enumerate(cells):
        for j, text in enumerate(row):
            cell = table.cell(i, j)
            cell.text = text
            for paragraph in cell.paragraphs:
                paragraph.style = word.styles[TABLE_TEXT]
                if i == 0:
                    for run in paragraph.runs:
                        run.bold = True
    _widths(table, cells)
    header = table.rows[0]._tr.get_or_add_trPr()  # the header row repeats on every page the table runs over
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header.append(repeat)
    note = figure.find(class_="ar-table-note")
    if note:
        word.add_paragraph(note.get_text(strip=True), style=CAPTION)


def _widths(table, cells: list[list[str]]) -> None:
    """Columns as wide as their longest text (Chinese characters count double), so short phrases stay on one line."""
    from docx.shared import Cm

    def width(text: str) -> int:
        return sum(2 if ord(c) > 0x2E80 else 1 for c in text)

    capacity = 60  # half-width characters at 12 pt across the 15.5 cm text width, with a margin for wider faces
    columns = max(len(r) for r in cells)
    needs = [max(4, *(width(r[j]) for r in cells if j < len(r))) + 3 for j in range(columns)]
    while sum(needs) > capacity and max(needs) > 12:  # the widest column (a label) wraps; figures never do
        widest = needs.index(max(needs))
        needs[widest] -= min(sum(needs) - capacity, needs[widest] - 12)
    scale = min(1.0, capacity / sum(needs))
    table.autofit = False
    for j, need in enumerate(needs):
        table.columns[j].width = Cm(MAX_PICTURE_WIDTH_CM * need * scale / capacity)
        for row in table.rows:
            if j < len(row.cells):
                row.cells[j].width = Cm(MAX_PICTURE_WIDTH_CM * need * scale / capacity)


def docx_bytes(report_html: str, document: Mapping | None = None) -> bytes:
    """The rendered report (its HTML) as an editable Word document, laid out as ``document`` says."""
    import docx

    from .config import DEFAULT_DOCUMENT

    document = {**DEFAULT_DOCUMENT, **(document or {})}
    soup = BeautifulSoup(report_html, "html.parser")
    word = docx.Document()
    _set_styles(word, document)
    _page(word, document)
    mark = soup.find(class_="ar-draft-mark")
    if mark:
        word.add_paragraph(mark.get_text(strip=True), style=CAPTION)
    title = soup.find("h1")
    word.add_paragraph(title.get_text(strip=True), style="Title")
    main = soup.find("main")
    for element in main.find_all(["h2", "h3", "h4", "h5", "h6", "p", "figure", "li"]):
        if element.find_parent("figure") is not None:
            continue  # a table's note or a chart's caption: written with its figure
        if element.name.startswith("h"):
            word.add_heading(element.get_text(strip=True), level=int(element.name[1]) - 1)
        elif element.name in ("p", "li"):
            word.add_paragraph(element.get_text(strip=True))
        elif "ar-table" in element.get("class", []):
            _table(word, element)
        elif element.find("img") is not None:
            _picture(word, element.find("img"))
            caption = element.find("figcaption")
            if caption:
                word.add_paragraph(caption.get_text(strip=True), style=CAPTION)
    footer = soup.find("footer")
    if footer:
        for line in footer.find_all("p"):
            word.add_paragraph(line.get_text(strip=True))
    buffer = io.BytesIO()
    word.save(buffer)
    return buffer.getvalue()
