"""The report as a Word document (.docx) that staff can edit, made from the same rendered report.

Headings use Word's own heading styles (so the navigation pane in Word and WPS works),
tables are Word tables, charts are pictures with their alt text, and every style names
an East Asian font so Chinese never falls back to a Latin face.
"""

from __future__ import annotations

import base64
import io
from bs4 import BeautifulSoup, Tag

# Fonts after Chinese official documents (GB/T 9704): body 仿宋 16 pt, level-1 heading 黑体, level-2 楷体.
BODY_FONT, TITLE_FONT, HEADING_FONTS = "仿宋", "方正小标宋简体", {1: "黑体", 2: "楷体"}
BODY_SIZE, TITLE_SIZE = 16, 22
MAX_PICTURE_WIDTH_CM = 15.5


def _east_asian(style_or_run, font: str) -> None:
    from docx.oxml.ns import qn

    properties = style_or_run.element.get_or_add_rPr()
    fonts = properties.find(qn("w:rFonts"))
    if fonts is None:
        fonts = properties.makeelement(qn("w:rFonts"), {})
        properties.append(fonts)
    fonts.set(qn("w:eastAsia"), font)


def _set_styles(document) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt, RGBColor

    normal = document.styles["Normal"]
    normal.font.size = Pt(BODY_SIZE)
    normal.font.name = "Times New Roman"
    _east_asian(normal, BODY_FONT)
    normal.paragraph_format.first_line_indent = Pt(BODY_SIZE * 2)
    normal.paragraph_format.line_spacing = Pt(28)
    title = document.styles["Title"]
    title.font.size, title.font.bold, title.font.color.rgb = Pt(TITLE_SIZE), False, RGBColor(0, 0, 0)
    _east_asian(title, TITLE_FONT)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for level in range(1, 6):
        style = document.styles[f"Heading {level}"]
        style.font.size, style.font.bold, style.font.color.rgb = Pt(BODY_SIZE), False, RGBColor(0, 0, 0)
        _east_asian(style, HEADING_FONTS.get(level, BODY_FONT))
        style.paragraph_format.first_line_indent = Pt(BODY_SIZE * 2)


def _picture(document, image: Tag) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm

    data = base64.b64decode(image["src"].split(",", 1)[1])
    paragraph = document.add_paragraph()
    paragraph.paragraph_format.first_line_indent = Cm(0)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run()
    shape = run.add_picture(io.BytesIO(data), width=Cm(MAX_PICTURE_WIDTH_CM))
    shape._inline.docPr.set("descr", image.get("alt", ""))  # alt text, read aloud by screen readers


def _table(document, figure: Tag) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm

    caption = figure.find("caption")
    if caption:
        paragraph = document.add_paragraph(caption.get_text(strip=True), style="Caption")
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    rows = figure.find_all("tr")
    cells = [[c.get_text(strip=True) for c in row.find_all(["th", "td"])] for row in rows]
    table = document.add_table(rows=len(cells), cols=max(len(r) for r in cells), style="Table Grid")
    for i, row in enumerate(cells):
        for j, text in enumerate(row):
            cell = table.cell(i, j)
            cell.text = text
            for paragraph in cell.paragraphs:
                paragraph.paragraph_format.first_line_indent = Cm(0)
                if i == 0:
                    for run in paragraph.runs:
                        run.bold = True
    note = figure.find(class_="ar-table-note")
    if note:
        document.add_paragraph(note.get_text(strip=True))


def docx_bytes(report_html: str) -> bytes:
    """The rendered report (its HTML) as an editable Word document."""
    import docx

    soup = BeautifulSoup(report_html, "html.parser")
    document = docx.Document()
    _set_styles(document)
    title = soup.find("h1")
    document.add_paragraph(title.get_text(strip=True), style="Title")
    main = soup.find("main")
    for element in main.find_all(["h2", "h3", "h4", "h5", "h6", "p", "figure"]):
        if element.find_parent("figure") is not None:
            continue  # a table's note or a chart's caption: written with its figure
        if element.name.startswith("h"):
            document.add_heading(element.get_text(strip=True), level=int(element.name[1]) - 1)
        elif element.name == "p":
            document.add_paragraph(element.get_text(strip=True))
        elif "ar-table" in element.get("class", []):
            _table(document, element)
        elif element.find("img") is not None:
            _picture(document, element.find("img"))
            caption = element.find("figcaption")
            if caption:
                document.add_paragraph(caption.get_text(strip=True), style="Caption")
    footer = soup.find("footer")
    if footer:
        for line in footer.find_all("p"):
            document.add_paragraph(line.get_text(strip=True))
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
