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
import re
from collections.abc import Mapping

from bs4 import BeautifulSoup, Tag

from .page import grid, page_name, page_size, text_block

PICTURE, CAPTION, TABLE_TEXT = "Picture", "Caption", "Table Text"
PAGE_NUMBER_PT = 14  # 4号, GB/T 9704 §7.5
TABLE_PT = 12  # 小四: table cells and captions
PADDING = 14  # a table cell's left and right padding (100 twips each) and a little air, in points
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_UNIT = re.compile(r"[（(][^（）()]{1,12}[）)]$")  # a label's unit in brackets, at its end: 资助金额（元）


def _length(text: str):
    """A CSS length from the config (16pt, 37mm, 2.5cm) as a python-docx length."""
    from docx.shared import Cm, Inches, Mm, Pt

    number, unit = float(re.match(r"[\d.]+", str(text)).group()), re.sub(r"[\d.]+", "", str(text))
    return {"pt": Pt, "mm": Mm, "cm": Cm, "in": Inches, "px": lambda n: Pt(n * 0.75)}.get(unit, Pt)(number)


def _fonts(properties, font: str, language: str) -> None:
    """In run properties (``w:rPr``): the role's font for Chinese and for the digits and Latin letters among it
    alike, with no theme font beside it, and the language."""
    from docx.oxml.ns import qn

    fonts = properties.find(qn("w:rFonts"))
    if fonts is None:
        fonts = properties.makeelement(qn("w:rFonts"), {})
        properties.insert(0, fonts)
    for attribute in list(fonts.attrib):  # asciiTheme, eastAsiaTheme, … would win over the names set here
        del fonts.attrib[attribute]
    for attribute in ("w:eastAsia", "w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attribute), font)
    _language(properties, language)


def _language(properties, language: str) -> None:
    from docx.oxml.ns import qn

    lang = properties.find(qn("w:lang"))
    if lang is None:
        lang = properties.makeelement(qn("w:lang"), {})
        properties.append(lang)
    lang.set(qn("w:val"), language)
    lang.set(qn("w:eastAsia"), language)


def role_font_name(document: Mapping, role: str) -> str:
    """The font a role names first in the config (Word takes the next ones from the font table where it is missing)."""
    from ..core.fonts import preferred

    return preferred(document, role)[0]


def _outline(style, level: int) -> None:
    from docx.oxml.ns import qn

    properties = style.element.get_or_add_pPr()
    for old in properties.findall(qn("w:outlineLvl")):
        properties.remove(old)
    element = properties.makeelement(qn("w:outlineLvl"), {qn("w:val"): str(level)})
    properties.append(element)


def _first_line_chars(style, chars: int, size_pt: float) -> None:
    """A first-line indent of ``chars`` characters, in character units (Word, WPS) and in twips (LibreOffice)."""
    from docx.oxml.ns import qn

    properties = style.element.get_or_add_pPr()
    indent = properties.find(qn("w:ind"))
    if indent is None:
        indent = properties.makeelement(qn("w:ind"), {})
        properties.append(indent)
    indent.set(qn("w:firstLineChars"), str(chars * 100))
    indent.set(qn("w:firstLine"), str(round(chars * size_pt * 20)))


def _spacing(style, points: float) -> None:
    """Character spacing that sets ``chars_per_line`` characters on a line: in twentieths of a point, one less than
    the grid's exact figure (LibreOffice needs that hair of slack to fit the last character)."""
    import math

    from docx.oxml.ns import qn

    properties = style.element.get_or_add_rPr()
    for old in properties.findall(qn("w:spacing")):
        properties.remove(old)
    twentieths = math.floor(points * 20) - 1
    if twentieths < 0:
        properties.append(properties.makeelement(qn("w:spacing"), {qn("w:val"): str(twentieths)}))


# The order WordprocessingML's schema gives the children of paragraph, run and table properties: Word refuses a
# document whose properties come in another order, so everything set here is put back in it at the end.
_ORDER = {
    "pPr": "pStyle keepNext keepLines pageBreakBefore framePr widowControl numPr suppressLineNumbers pBdr shd tabs "
           "suppressAutoHyphens kinsoku wordWrap overflowPunct topLinePunct autoSpaceDE autoSpaceDN bidi adjustRightInd "
           "snapToGrid spacing ind contextualSpacing mirrorIndents suppressOverlap jc textDirection textAlignment "
           "textboxTightWrap outlineLvl divId cnfStyle rPr sectPr pPrChange",
    "rPr": "rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss imprint noProof snapToGrid "
           "vanish webHidden color spacing w kern position sz szCs highlight u effect bdr shd fitText vertAlign rtl cs "
           "em lang eastAsianLayout specVanish oMath rPrChange",
    "tblPr": "tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize tblStyleColBandSize tblW jc tblCellSpacing "
             "tblInd tblBorders shd tblLayout tblCellMar tblLook tblCaption tblDescription tblPrChange",
}


def _in_schema_order(root) -> None:
    for kind, order in _ORDER.items():
        rank = {f"{{{W}}}{name}": i for i, name in enumerate(order.split())}
        for properties in root.iter(f"{{{W}}}{kind}"):
            children = list(properties)
            ordered = sorted(children, key=lambda child: rank.get(child.tag, len(rank)))
            if ordered != children:
                for child in children:
                    properties.remove(child)
                properties.extend(ordered)


def _off_grid(style) -> None:
    from docx.oxml.ns import qn

    properties = style.element.get_or_add_pPr()
    for old in properties.findall(qn("w:snapToGrid")):
        properties.remove(old)
    properties.insert(0, properties.makeelement(qn("w:snapToGrid"), {qn("w:val"): "0"}))


def _set_styles(word, document: Mapping, language: str) -> None:
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    body_size = _length(document["body_size"])
    char_pitch, line_pitch = grid(document)
    # The document's defaults: the body font and zh-CN, instead of the template's theme fonts and en-US.
    defaults = word.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _fonts(defaults, role_font_name(document, "body"), language)
    for size in (defaults.find(qn("w:sz")), defaults.find(qn("w:szCs"))):  # the grid's pitch is reckoned from it
        if size is not None:
            size.set(qn("w:val"), str(round(body_size.pt * 2)))
    normal = word.styles["Normal"]
    normal.font.size = body_size
    _fonts(normal.element.get_or_add_rPr(), role_font_name(document, "body"), language)
    normal.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    _first_line_chars(normal, 2, char_pitch)
    normal.paragraph_format.line_spacing = Pt(line_pitch)  # exact: the grid's line, as official documents set it
    normal.paragraph_format.space_before = normal.paragraph_format.space_after = Pt(0)
    _spacing(normal, char_pitch - body_size.pt)
    title = word.styles["Title"]
    title.font.size, title.font.bold, title.font.color.rgb = _length(document["title_size"]), False, RGBColor(0, 0, 0)
    _fonts(title.element.get_or_add_rPr(), role_font_name(document, "title"), language)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _first_line_chars(title, 0, char_pitch)
    title.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    title.paragraph_format.space_after = Pt(line_pitch)  # one blank line under the title
    for border in title.element.xpath("./w:pPr/w:pBdr"):  # Word's default title is underlined by a blue rule
        border.getparent().remove(border)
    _outline(title, 0)
    for level in range(1, 6):
        style = word.styles[f"Heading {level}"]
        style.font.size, style.font.bold, style.font.color.rgb = body_size, False, RGBColor(0, 0, 0)
        _fonts(style.element.get_or_add_rPr(), role_font_name(document, {1: "heading1", 2: "heading2"}.get(level, "body")), language)
        _first_line_chars(style, 2, char_pitch)
        style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        style.paragraph_format.keep_with_next = True
        style.paragraph_format.line_spacing = Pt(line_pitch)
        style.paragraph_format.space_before = style.paragraph_format.space_after = Pt(0)
        _spacing(style, char_pitch - body_size.pt)
        _outline(style, level - 1)
    figure_font = role_font_name(document, "figures")
    names = [s.name for s in word.styles]
    for name, size in ((PICTURE, None), (CAPTION, TABLE_PT), (TABLE_TEXT, TABLE_PT), ("Footer", PAGE_NUMBER_PT)):
        style = word.styles[name] if name in names else word.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = normal
        style.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE  # automatic: a picture keeps its height
        _first_line_chars(style, 0, char_pitch)  # zero in characters too: Normal's two would be inherited
        style.paragraph_format.space_before = Pt(0)
        style.paragraph_format.space_after = Pt(0 if name in (TABLE_TEXT, "Footer") else 6)
        if size:
            style.font.size = Pt(size)
            style.font.italic, style.font.color.rgb = False, RGBColor(0, 0, 0)
            _fonts(style.element.get_or_add_rPr(), figure_font if name != "Footer" else role_font_name(document, "body"), language)
        style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT if name == TABLE_TEXT else WD_ALIGN_PARAGRAPH.CENTER
        style.paragraph_format.keep_with_next = name == PICTURE
        _off_grid(style)
    _off_grid(title)  # the grid is the body's: a 22 pt title, tables and captions keep their own spacing
    for spacing in title.element.xpath("./w:rPr/w:spacing"):  # the template's +0.25 pt between a title's characters
        spacing.getparent().remove(spacing)
    for style in word.styles.element.findall(qn("w:style")):  # no style left drawing in a theme's font
        for rsid in style.findall(qn("w:rsid")):  # nor the template's editing-session ids
            style.remove(rsid)
        for fonts in style.iter(qn("w:rFonts")):
            for attribute in [a for a in fonts.attrib if a.endswith("Theme") or a.endswith("theme")]:
                del fonts.attrib[attribute]
            if not fonts.attrib:
                fonts.getparent().remove(fonts)


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
        section.top_margin, section.bottom_margin = _length(margins["top"]), _length(margins["bottom"])
        section.left_margin, section.right_margin = _length(margins["left"]), _length(margins["right"])
        section.footer_distance = Mm(max(0.0, _length(margins["bottom"]).mm - 7 - PAGE_NUMBER_PT * 25.4 / 72))
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


def _ems(text: str) -> float:
    """How many ems a text takes in the tables' bold face: a Chinese character or full-width form one, a digit or
    Latin letter about 0.6."""
    return sum(1.0 if ord(c) > 0x2E80 else 0.6 for c in text)


def _table(word, figure: Tag, document: Mapping) -> None:
    """A report table as a Word table sized for print: on a landscape page of its own when even its narrowest
    layout (figures, dates and codes whole, labels broken only between words) is wider than the text block."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    rows = figure.find_all("tr")
    cells = [[c for c in row.find_all(["th", "td"])] for row in rows]
    texts = [[c.get_text(strip=True) for c in row] for row in cells]
    portrait, landscape = text_block(document)[0], text_block({**document, "page": f"{page_name(document)} landscape"})[0]
    least = sum(_least(cells))
    turned = least > portrait and landscape > portrait
    if turned:
        _section(word, document, landscape=True)
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
            unit = _UNIT.search(text) if tag.name == "th" else None
            if unit and unit.start() and _ems(text) * TABLE_PT > widths[j] - PADDING:
                # Too long for its column: the unit goes under the label, whole, never split inside its brackets.
                paragraph.add_run(text[: unit.start()]).add_break()
                paragraph.add_run(unit.group())
            else:
                paragraph.add_run(text)
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
        _section(word, document, landscape=False)


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


def _section(word, document: Mapping, *, landscape: bool) -> None:
    """A new page in the given orientation (for a table too wide for the portrait text block), the page otherwise
    as the document's: margins, grid and page numbers carry over from the section before."""
    from docx.enum.section import WD_ORIENT, WD_SECTION
    from docx.shared import Mm

    section = word.add_section(WD_SECTION.NEW_PAGE)
    width, height = page_size({**document, "page": f"{page_name(document)} landscape"} if landscape else document)
    section.orientation = WD_ORIENT.LANDSCAPE if width > height else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(width), Mm(height)


def _properties(word, title: str, author: str, built: dt.datetime, language: str) -> None:
    """Title, author and dates from the report; nothing of the template or the tool that made it."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT

    core = word.core_properties
    core.title, core.author, core.last_modified_by = title, author, author
    core.subject = core.keywords = core.category = core.comments = core.identifier = core.content_status = ""
    core.language, core.revision = language, 1
    core.created = core.modified = built.astimezone(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    package = word.part.package
    for rId, rel in list(package.rels.items()):
        if rel.reltype == RT.THUMBNAIL:  # python-docx's template carries a blank page as the document's thumbnail
            del package.rels[rId]
        elif rel.reltype == RT.EXTENDED_PROPERTIES:
            rel.target_part._blob = _app_xml(author)
    for rId, rel in list(word.part.rels.items()):
        if rel.reltype in (RT.CUSTOM_XML, "http://schemas.microsoft.com/office/2007/relationships/stylesWithEffects"):
            del word.part.rels[rId]  # the template's leftovers: nothing in the document refers to them


def _app_xml(company: str) -> bytes:
    from xml.sax.saxutils import escape

    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Properties xmlns="http://schemas.openxmlformats.org/'
            'officeDocument/2006/extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'docPropsVTypes"><Company>{escape(company)}</Company><DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop>'
            "<LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged>"
            "</Properties>").encode("utf-8")


def _settings(word, language: str) -> None:
    """zh-CN as the theme's East-Asian language; no preview picture or editing session ids of the template."""
    from docx.oxml.ns import qn

    settings = word.settings.element
    for name in ("w:savePreviewPicture", "w:rsids", "w:proofState"):
        for element in settings.findall(qn(name)):
            settings.remove(element)
    for element in settings.findall(qn("w:themeFontLang")):
        element.set(qn("w:val"), language)
        element.set(qn("w:eastAsia"), language)


def _font_table(word, document: Mapping, language: str) -> None:
    """The fonts the styles name, each with its role's fallbacks (``w:altName``), character set, family and PANOSE."""
    from lxml import etree

    from ..core.fonts import ROLES, fallbacks, PANOSE, WORD_FAMILY

    part = next(rel.target_part for rel in word.part.rels.values() if rel.reltype.endswith("/fontTable"))
    ns = {"w": W}
    root = etree.fromstring(part.blob)
    for font in root.findall("w:font", ns):
        root.remove(font)
    listed: set[str] = set()
    for role in ROLES:
        names = fallbacks(document, role)
        name = names[0]
        if name in listed:
            continue
        listed.add(name)
        font = etree.SubElement(root, f"{{{W}}}font", {f"{{{W}}}name": name})
        etree.SubElement(font, f"{{{W}}}altName", {f"{{{W}}}val": ",".join(names[1:])})
        if name in PANOSE:
            etree.SubElement(font, f"{{{W}}}panose1", {f"{{{W}}}val": PANOSE[name]})
        etree.SubElement(font, f"{{{W}}}charset", {f"{{{W}}}val": "86"})  # GB2312
        etree.SubElement(font, f"{{{W}}}family", {f"{{{W}}}val": WORD_FAMILY[role]})
        etree.SubElement(font, f"{{{W}}}pitch", {f"{{{W}}}val": "variable"})
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    theme = next((rel.target_part for rel in word.part.rels.values() if rel.reltype.endswith("/theme")), None)
    if theme is not None:  # the theme's East-Asian faces too, should anything fall back to them
        xml = theme.blob.decode("utf-8")
        for kind, role in (("major", "heading1"), ("minor", "body")):
            face = fallbacks(document, role)[0].replace("&", "&amp;").replace('"', "&quot;")
            xml = re.sub(rf'(<a:{kind}Font>.*?<a:ea typeface=")[^"]*(")', rf"\g<1>{face}\g<2>", xml, count=1, flags=re.S)
            xml = re.sub(rf'(<a:{kind}Font>.*?<a:font script="Hans" typeface=")[^"]*(")', rf"\g<1>{face}\g<2>", xml,
                         count=1, flags=re.S)
        theme._blob = xml.encode("utf-8")


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
    _set_styles(word, document, language)
    _page(word, document)
    width_pt = text_block(document)[0]
    mark = soup.find(class_="ar-draft-mark")
    if mark:
        word.add_paragraph(mark.get_text(strip=True), style=CAPTION)
    title = soup.find("h1")
    title_text = title.get_text(strip=True)
    word.add_paragraph(title_text, style="Title")
    main = soup.find("main")
    for element in main.find_all(["h2", "h3", "h4", "h5", "h6", "p", "figure", "li"]):
        if element.find_parent("figure") is not None:
            continue  # a table's note or a chart's caption: written with its figure
        if element.name.startswith("h"):
            word.add_heading(element.get_text(strip=True), level=int(element.name[1]) - 1)
        elif element.name in ("p", "li"):
            word.add_paragraph(element.get_text(strip=True))
        elif "ar-table" in element.get("class", []):
            _table(word, element, document)
        elif element.find("img") is not None:
            _picture(word, element.find("img"), width_pt)
            caption = element.find("figcaption")
            if caption:
                word.add_paragraph(caption.get_text(strip=True), style=CAPTION)
    footer = soup.find("footer")
    if footer:
        for line in footer.find_all("p"):
            word.add_paragraph(line.get_text(strip=True))
    _properties(word, title_text, author, built, language)
    for part in (word.styles.element, word.element, *(s.footer._element for s in word.sections),
                 *(s.even_page_footer._element for s in word.sections)):
        _in_schema_order(part)
    _settings(word, language)
    _font_table(word, document, language)
    buffer = io.BytesIO()
    word.save(buffer)
    return buffer.getvalue()
