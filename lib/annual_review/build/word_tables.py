"""Word tables set for print, and the pieces the document's body shares with them.

A report table becomes a Word table sized to the text block: each column as wide as its text on one line where
the page allows, else the labels give up width down to their longest word (the figures never); on a landscape
page of its own when even that is too wide. Cell padding, the header row bold and repeated on every page,
figures right-aligned, 合计 bold, a unit never broken inside its brackets, rows kept together at a table's start
and end.
"""

from __future__ import annotations

from collections.abc import Mapping

from bs4 import Tag

from .page import page_name, page_size, text_block
from .word_styles import CAPTION, PADDING, TABLE_PT, TABLE_TEXT, UNIT


def _ems(text: str) -> float:
    """How many ems a text takes in the tables' bold face: a Chinese character or full-width form one, a digit or
    Latin letter about 0.6."""
    return sum(1.0 if ord(c) > 0x2E80 else 0.6 for c in text)


def table(word, figure: Tag, document: Mapping) -> None:
    """A report table as a Word table sized for print: on a landscape page of its own when even its narrowest
    layout (figures, dates and codes whole, labels broken only between words) is wider than the text block."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    rows = figure.find_all("tr")
    cells = [[c for c in row.find_all(["th", "td"])] for row in rows]
    texts = [[plain_text(c) for c in row] for row in cells]
    portrait, landscape = text_block(document)[0], text_block({**document, "page": f"{page_name(document)} landscape"})[0]
    least = sum(_least(cells))
    turned = least > portrait and landscape > portrait
    if turned:
        section(word, document, landscape=True)
    widths = _widths(cells, landscape if turned else portrait)
    caption = figure.find("caption")
    if caption:
        word.add_paragraph(caption.get_text(strip=True), style=CAPTION).paragraph_format.keep_with_next = True
    table = word.add_table(rows=len(texts), cols=max(len(r) for r in texts), style="Table Grid")
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    # Where a page may break: never after the header or the first row, never before the last two body rows (the
    # 合计 and the two rows above it stay together).
    last = len(texts) - 1
    ends_in_total = "ar-total" in (rows[last].get("class") or [])
    keep = {0, 1} | ({last - 2, last - 1} if ends_in_total else {last - 1})
    for i, (row, tags) in enumerate(zip(texts, cells)):
        total = "ar-total" in (rows[i].get("class") or [])
        for j, (text, tag) in enumerate(zip(row, tags)):
            paragraph = table.cell(i, j).paragraphs[0]
            paragraph.style = word.styles[TABLE_TEXT]
            kind = tag.get("class") or []
            if "ar-num" in kind:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            elif tag.name == "th" or "ar-change" in kind:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
            unit = UNIT.search(text) if tag.name == "th" else None
            if unit and unit.start() and _ems(text) * TABLE_PT > widths[j] - PADDING:
                # Too long for its column: the unit goes under the label, whole, never split inside its brackets.
                paragraph.add_run(text[: unit.start()]).add_break()
                paragraph.add_run(unit.group())
            else:
                paragraph.add_run(text)
            ref = tag.select_one(".ar-fig-ref")
            if ref is not None:  # a draft's figure: its number in the sources appendix
                figure_number(paragraph, ref.get_text(strip=True))
            if tag.name == "th" or total:
                for run in paragraph.runs:
                    run.bold = True
            if i in keep:
                paragraph.paragraph_format.keep_with_next = True
    margins = OxmlElement("w:tblCellMar")
    for side, twips in (("top", 40), ("left", 100), ("bottom", 40), ("right", 100)):
        margin = OxmlElement(f"w:{side}")
        margin.set(qn("w:w"), str(twips))
        margin.set(qn("w:type"), "dxa")
        margins.append(margin)
    table._tbl.tblPr.append(margins)
    table.autofit = False
    for j, width in enumerate(widths):
        table.columns[j].width = Pt(width)
        for row in table.rows:
            if j < len(row.cells):
                row.cells[j].width = Pt(width)
    for row in table.rows:
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    repeat = OxmlElement("w:tblHeader")  # the header row repeats on every page the table runs over
    repeat.set(qn("w:val"), "true")
    table.rows[0]._tr.get_or_add_trPr().append(repeat)
    note = figure.find(class_="ar-table-note")
    if note:
        word.add_paragraph(note.get_text(strip=True), style=CAPTION)
    if turned:
        section(word, document, landscape=False)


def _words(cell: Tag) -> list[str]:
    """The pieces a cell's text may be broken into: its words (the report marks them), else the whole text."""
    marked = [w.get_text() for w in cell.select(".ar-w")]
    return marked or [cell.get_text(strip=True)]


def _least(cells: list[list[Tag]]) -> list[float]:
    """Each column's narrowest width in points: its widest figure, date, code or single word, with padding."""
    columns = max(len(r) for r in cells)
    return [max(max(_ems(word) for word in _words(row[j])) * TABLE_PT + PADDING for row in cells if j < len(row))
            for j in range(columns)]


def _widths(cells: list[list[Tag]], capacity_pt: float) -> list[float]:
    """Column widths in points: each as wide as its text on one line if the text block allows; otherwise the labels
    and texts give up width (down to their longest word), the figures never."""
    columns = max(len(r) for r in cells)
    whole = [max(_ems(row[j].get_text(strip=True)) * TABLE_PT + PADDING for row in cells if j < len(row))
             for j in range(columns)]
    least = _least(cells)
    if sum(whole) <= capacity_pt:
        return whole
    if sum(least) >= capacity_pt:  # (only when even a landscape page is too narrow: the PDF refuses such a table)
        return [w * capacity_pt / sum(least) for w in least]
    slack = [w - m for w, m in zip(whole, least)]
    cut = (sum(whole) - capacity_pt) / sum(slack)  # each text column gives up the same share of what it could
    return [w - s * cut for w, s in zip(whole, slack)]


def section(word, document: Mapping, *, landscape: bool) -> None:
    """A new page in the given orientation (for a table too wide for the portrait text block), the page otherwise
    as the document's: margins, grid and page numbers carry over from the section before."""
    from docx.enum.section import WD_ORIENT, WD_SECTION
    from docx.shared import Mm

    section = word.add_section(WD_SECTION.NEW_PAGE)
    width, height = page_size({**document, "page": f"{page_name(document)} landscape"} if landscape else document)
    section.orientation = WD_ORIENT.LANDSCAPE if width > height else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(width), Mm(height)


def plain_text(tag: Tag) -> str:
    """A cell's or paragraph's text as the reader reads it (``get_text(strip=True)``), without a draft's figure
    numbers."""
    return "".join(s.strip() for s in tag.find_all(string=True) if s.find_parent(class_="ar-fig-ref") is None)


def figure_number(paragraph, number: str) -> None:
    """A draft's figure number: a superscript linking to its row of the sources appendix (bookmark src_<n>)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = paragraph.add_run(number)
    run.font.superscript = True
    link = OxmlElement("w:hyperlink")
    link.set(qn("w:anchor"), f"src_{number}")
    run._r.addprevious(link)
    link.append(run._r)
