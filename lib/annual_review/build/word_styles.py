"""How the Word document looks and what it says of itself: its styles with each role's fonts (and no theme font
beside them), the font table's fallbacks, the settings' language and grid, and the document properties."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from .page import grid

PICTURE, CAPTION, TABLE_TEXT = "Picture", "Caption", "Table Text"
PAGE_NUMBER_PT = 14  # 4号, GB/T 9704 §7.5
TABLE_PT = 12  # 小四: table cells and captions
PADDING = 14  # a table cell's left and right padding (100 twips each) and a little air, in points
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
UNIT = re.compile(r"[（(][^（）()]{1,12}[）)]$")  # a label's unit in brackets, at its end: 资助金额（元）


def length(text: str):
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


def in_schema_order(root) -> None:
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


def set_styles(word, document: Mapping, language: str) -> None:
    from docx.enum.style import WD_STYLE_TYPE
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    body_size = length(document["body_size"])
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
    title.font.size, title.font.bold, title.font.color.rgb = length(document["title_size"]), False, RGBColor(0, 0, 0)
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



def properties_of(word, title: str, author: str, built: dt.datetime, language: str) -> None:
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


def settings(word, language: str) -> None:
    """zh-CN as the theme's East-Asian language; no preview picture or editing session ids of the template."""
    from docx.oxml.ns import qn

    settings = word.settings.element
    for name in ("w:savePreviewPicture", "w:rsids", "w:proofState"):
        for element in settings.findall(qn(name)):
            settings.remove(element)
    for element in settings.findall(qn("w:themeFontLang")):
        element.set(qn("w:val"), language)
        element.set(qn("w:eastAsia"), language)


def font_table(word, document: Mapping, language: str) -> None:
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
