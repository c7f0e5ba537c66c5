"""The report as a PDF for filing and printing, laid out by WeasyPrint from the same rendered report.

The page follows GB/T 9704: A4 (or ``document.page``) with the config's margins, the body on a grid of 28
characters × 22 lines, justified, page numbers "— 1 —" at the outside edge, Chinese glyphs embedded and
text that can be selected and searched. The layout is checked before anything is written, and mended
where a typesetter would mend it:

* nothing is wider than the text block: a table too wide for it is set on a landscape page of its own,
  and if even that is too narrow the build fails naming the table (a column is never cut off);
* a chart that would leave more than a third of a page empty (it does not fit below the text before it)
  waits for the paragraphs after it, as a float does, or is drawn a little smaller when none follow;
* tables never leave fewer than two body rows (or only their 合计) on a page, and a caption stays with
  its table (CSS in the report's stylesheet).

WeasyPrint justifies a line only at its spaces; Chinese has none, so this module adds inter-character
justification (CSS Text 3 ``text-justify: inter-character``) to it. The PDF's metadata names the report
and the body; not the tool, its version or the time it was made.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.exceptions import BuildError
from ..core.paths import contained

_MISSING = (
    "PDF needs the Pango text library, which this machine lacks{detail}. `make system-deps` installs it on "
    "Debian/Ubuntu as root (apt-get install libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0); "
    "or build without a PDF: --format html"
)
MAX_PASSES = 4  # layouts tried before the PDF is written: the first, then one per round of mending
EMPTY = 1 / 3  # a page emptier than this, before a block that would fit, is mended
LANDSCAPE = "ar-landscape"  # a table set on a landscape page of its own
DEFERRED = "ar-deferred"  # a chart moved after the paragraphs that followed it


def check_pdf_support() -> None:
    """Raise BuildError at once, with what to do, if this machine lacks what WeasyPrint draws text with."""
    import ctypes.util

    if ctypes.util.find_library("pango-1.0") is None:
        raise BuildError(_MISSING.format(detail=""))


def _fetcher(project: Path | None, refused: list[str]):
    """A WeasyPrint URL fetcher that serves ``data:`` URLs and files inside ``project``, and nothing else."""
    from urllib.parse import unquote, urlparse

    from weasyprint.urls import URLFetcher

    class LocalOnly(URLFetcher):
        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file" and project is not None:
                path = Path(unquote(urlparse(url).path))
                if path.is_file() and contained(path, project):
                    return super().fetch(url, headers)
            refused.append(url[:120])
            raise ValueError(f"not fetched: {url[:120]} (the report fetches nothing from outside)")

    return LocalOnly(allowed_protocols={"data", "file"}, allow_redirects=False)


@functools.cache
def _weasyprint():
    """WeasyPrint, with inter-character justification for lines that have no spaces to stretch (Chinese)."""
    try:
        import weasyprint
        from weasyprint.formatting_structure import boxes
        from weasyprint.layout import inline
        from weasyprint.text.line_break import create_layout
    except OSError as exc:  # the Python package is there, the Pango library it draws text with is not
        raise BuildError(_MISSING.format(detail=f" ({exc})")) from None
    spaces_only = inline.justify_line

    def justify_line(context, line, extra_width):
        if extra_width <= 0 or inline.count_expandable_spaces(line):
            return spaces_only(context, line, extra_width)
        letters = sum(len(box.text) for box in _text_boxes(line, boxes))
        if letters < 2:
            return None
        step = extra_width / letters  # Pango adds letter spacing after every character

        def spread(box, advance: float) -> float:
            if isinstance(box, boxes.TextBox):
                box.position_x += advance
                style = box.style.copy()
                base = style["letter_spacing"]
                style["letter_spacing"] = (0 if base == "normal" else base) + step
                box.style = style  # drawing lays the text out again from the box's style
                box.pango_layout = create_layout(box.text, style, context, None, box.justification_spacing)
                box.pango_layout.deactivate()
                box.width += step * len(box.text)
                return advance + step * len(box.text)
            if isinstance(box, (boxes.LineBox, boxes.InlineBox)):
                box.position_x += advance
                start = advance
                for child in box.children:
                    advance = spread(child, advance) if child.is_in_normal_flow() else advance
                box.width += advance - start
                return advance
            box.translate(advance, 0)
            return advance

        spread(line, 0.0)
        return None

    inline.justify_line = justify_line
    return weasyprint


def _text_boxes(box, boxes):
    if isinstance(box, boxes.TextBox):
        yield box
    elif isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        for child in box.children:
            if child.is_in_normal_flow():
                yield from _text_boxes(child, boxes)


# --- the layout, read back -----------------------------------------------------------------------------

@dataclass
class Block:
    """A block of the page's flow, as laid out: what it is, where, and the figure or table it belongs to."""

    tag: str
    ident: str  # the id of the figure (or element) it belongs to, if any
    classes: tuple[str, ...]
    top: float
    bottom: float
    right: float


def _blocks(page) -> list[Block]:
    """Every leaf of the page's layout (lines, pictures, table rows), with the id of the figure holding it."""
    found: list[Block] = []

    def walk(box, ident: str, classes: tuple) -> None:
        element = getattr(box, "element", None)
        tag = getattr(box, "element_tag", "") or ""
        if element is not None and tag == "figure" and element.get("id"):
            ident, classes = element.get("id"), tuple((element.get("class") or "").split())
        kind = type(box).__name__
        if kind == "MarginBox":
            return
        if kind in ("LineBox", "BlockReplacedBox", "InlineReplacedBox", "TableRowBox", "TableBox"):
            found.append(Block(tag if kind != "LineBox" else "line", ident, classes, box.position_y,
                               box.position_y + box.margin_height(), box.position_x + box.margin_width()))
            if kind != "TableBox":
                return
        for child in getattr(box, "children", []):
            walk(child, ident, classes)

    walk(page._page_box, "", ())
    return found


def _content(page) -> tuple[float, float, float]:
    """The page's text block: its top, bottom and right edge."""
    box = page._page_box
    return box.content_box_y(), box.content_box_y() + box.height, box.content_box_x() + box.width


def _too_wide(document) -> list[str]:
    """The ids of the figures and tables that run past the right edge of the text block."""
    wide = []
    for page in document.pages:
        right = _content(page)[2]
        wide += [b.ident or b.tag for b in _blocks(page) if b.right > right + 0.5 and b.tag != "line"]
    return list(dict.fromkeys(wide))


def _gaps(document) -> list[tuple[int, float, Block]]:
    """Pages left more than a third empty, each with its free height and the block that opens the next page."""
    found = []
    for number, (page, following) in enumerate(zip(document.pages, document.pages[1:])):
        top, bottom, _ = _content(page)
        blocks = _blocks(page)
        used = max((b.bottom for b in blocks), default=top)
        free = bottom - used
        opening = [b for b in _blocks(following) if b.tag != "line" or not b.ident]
        if free > EMPTY * (bottom - top) and opening:
            found.append((number, free, opening[0]))
    return found


# --- mending ------------------------------------------------------------------------------------------

def _mend(html: str, document) -> str | None:
    """The report's HTML with its layout mended (wide tables turned landscape, charts that leave a gap moved
    after their paragraphs or drawn smaller); None when there is nothing to mend."""
    from bs4 import BeautifulSoup

    wide = [i for i in _too_wide(document) if i and not i.startswith(("img", "table"))]
    gaps = [(n, free, block) for n, free, block in _gaps(document) if block.ident and "ar-chart" in block.classes]
    if not wide and not gaps:
        return None
    soup = BeautifulSoup(html, "html.parser")
    changed = False
    for ident in wide:
        figure = soup.find(id=ident)
        if figure is not None and LANDSCAPE not in figure.get("class", []):
            figure["class"] = [*figure.get("class", []), LANDSCAPE]
            changed = True
    for _, free, block in gaps:
        figure = soup.find(id=block.ident)
        if figure is None:
            continue
        followers = []
        for sibling in figure.find_next_siblings():
            if sibling.name != "p":
                break
            followers.append(sibling)
        if followers and DEFERRED not in figure.get("class", []):
            # A float: the paragraphs after the chart fill the page; the chart opens the next one.
            figure["class"] = [*figure.get("class", []), DEFERRED]
            followers[-1].insert_after(figure.extract())
            changed = True
        elif not followers and "data-fit" not in figure.attrs:
            height = block.bottom - block.top
            scale = (free - 12) / height
            if scale >= 0.75:  # a little smaller keeps its type legible in print; much smaller would not
                figure["data-fit"] = f"{scale:.3f}"
                image = figure.find("img")
                if image is not None:
                    image["style"] = f"width: {scale * 100:.1f}%"
                changed = True
    return str(soup) if changed else None


def layout(report_html: str, base: Path | None = None):
    """The report laid out for print, its layout mended (see the module's notes): WeasyPrint's document, and the
    HTML it was laid out from. Raise BuildError naming any table or picture that cannot be set within the page."""
    weasyprint = _weasyprint()
    refused: list[str] = []
    base_url = base.resolve().as_uri() + "/" if base is not None else None
    fetcher = _fetcher(base, refused)
    html = report_html
    for _ in range(MAX_PASSES):
        document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=fetcher).render()
        mended = _mend(html, document)
        if mended is None:
            break
        html = mended
    if refused:
        raise BuildError("The report asks for something from outside, which was not fetched: "
                         + ", ".join(dict.fromkeys(refused)))
    wide = _too_wide(document)
    if wide:
        names = []
        for ident in wide:
            caption = re.search(rf'id="{re.escape(ident)}"[^>]*>.*?<caption>(.*?)</caption>', html, re.S)
            names.append(f"“{caption.group(1)}”" if caption else ident)
        raise BuildError(f"Too wide for the page even in landscape, so the PDF was not written: {'、'.join(names)}. "
                         "Show fewer columns, or shorter labels (columns=… in show_table).")
    return document, html


def pdf_bytes(report_html: str, base: Path | None = None) -> bytes:
    """The rendered report (its HTML) as a PDF; nothing is fetched but ``data:`` URLs and files inside ``base``.

    Raise BuildError naming any table or picture that cannot be set within the page.
    """
    document, _ = layout(report_html, base)
    document.metadata.generator = None  # the tool and its version stay in manifest.json
    document.metadata.created = document.metadata.modified = None
    return document.write_pdf(finisher=_anonymous)


def _anonymous(document, pdf) -> None:
    """No producer line naming the tool that laid the PDF out."""
    for key in ("Producer", "Creator", "CreationDate", "ModDate"):
        pdf.info.pop(key, None)
