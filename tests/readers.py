"""How a reader's tools see the files a build wrote: LibreOffice for the Word version, poppler for PDFs, and which
face really drew the Chinese in a PDF.

``pdffonts`` cannot tell a Simplified-Chinese face from a Japanese one when both come from one font collection:
Noto CJK's .ttc shares its outlines between its SC, TC, JP and KR faces, and LibreOffice names the embedded subset
after the collection's first (NotoSansCJKjp). What differs is which glyph each face maps a character to (令 has
one glyph for SC and another for JP). LibreOffice keeps the collection's glyph ids in the subset's glyph names
(``cid09809``), so the face that drew a PDF's text is the one whose character map gives those glyphs.
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from pathlib import Path

CJK_FONTS = Path("/usr/share/fonts")


def poppler(*args: str) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout


def libreoffice_pdf(docx: Path, out: Path, *, fontconfig: Path | None = None) -> Path:
    """The Word document as LibreOffice lays it out, printed to PDF (``fontconfig``: a fontconfig file to use)."""
    import os

    env = {**os.environ, "HOME": str(out)}  # a profile of its own: no other conversion's settings
    if fontconfig is not None:
        env["FONTCONFIG_FILE"] = str(fontconfig)
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(out), str(docx)],
                   check=True, capture_output=True, timeout=300, env=env)
    return out / docx.with_suffix(".pdf").name


@functools.cache
def _faces() -> dict[str, dict[int, str]]:
    """Each installed CJK face's character map (character → glyph name)."""
    from fontTools.ttLib import TTCollection, TTFont

    maps = {}
    for path in sorted(CJK_FONTS.rglob("*")):
        if path.suffix.lower() not in (".ttc", ".otf", ".ttf") or not re.search(r"CJK|WenKai", path.name):
            continue
        fonts = TTCollection(str(path), lazy=True).fonts if path.suffix.lower() == ".ttc" else [TTFont(str(path), lazy=True)]
        for font in fonts:
            maps[font["name"].getBestFamilyName()] = font.getBestCmap()
    return maps


def _cid(name: str) -> int | None:
    match = re.fullmatch(r"cid0*(\d+)", name)
    return int(match.group(1)) if match else None


def drawn_faces(pdf: Path) -> dict[str, set[str]]:
    """For each font embedded in ``pdf``: the installed faces whose glyphs for its Chinese characters are the very
    ones it holds (empty when none is: a face not installed here, or glyphs that cannot be told apart)."""
    import pypdf
    from fontTools import t1Lib

    found: dict[str, set[str]] = {}
    reader = pypdf.PdfReader(str(pdf))
    for page in reader.pages:
        for font in (page.get("/Resources") or {}).get("/Font", {}).values():
            font = font.get_object()
            name = str(font.get("/BaseFont", "")).split("+")[-1]
            descriptor = font.get("/FontDescriptor")
            unicode_map = font.get("/ToUnicode")
            if descriptor is None or unicode_map is None or "/FontFile" not in descriptor.get_object():
                found.setdefault(name, set())
                continue
            with tempfile.NamedTemporaryFile(suffix=".pfa") as handle:
                handle.write(descriptor.get_object()["/FontFile"].get_object().get_data())
                handle.flush()
                program = t1Lib.T1Font(handle.name)
                program.parse()
            encoding = program.font["Encoding"]
            cmap = unicode_map.get_object().get_data().decode("latin-1")
            glyphs = {chr(int(u, 16)): encoding[int(c, 16)]
                      for c, u in re.findall(r"<([0-9A-Fa-f]{2})>\s*<([0-9A-Fa-f]{4})>", cmap) if int(u, 16) >= 0x3000}
            faces = {face for face, char_map in _faces().items()
                     if glyphs and all(_cid(char_map.get(ord(ch), "")) == _cid(g) for ch, g in glyphs.items())}
            found[name] = found.get(name, faces) & faces if name in found else faces
    return found


def words(pdf: Path) -> list[dict]:
    """Every word poppler finds, with its page's size: {page, width, height, x0, x1, y0, y1, text}."""
    import html

    pages = re.split(r"<page ", poppler("pdftotext", "-bbox", str(pdf), "-"))[1:]
    found = []
    for number, page in enumerate(pages, 1):
        width, height = (float(v) for v in re.match(r'width="([\d.]+)" height="([\d.]+)"', page).groups())
        for x0, y0, x1, y1, text in re.findall(
                r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page):
            found.append({"page": number, "width": width, "height": height, "x0": float(x0), "x1": float(x1),
                          "y0": float(y0), "y1": float(y1), "text": html.unescape(text)})
    return found
