"""The printed page of ``document:`` in the config, in points: its size, text block (版心) and grid.

GB/T 9704 sets an official document on A4 with a text block of 156 × 225 mm holding 22 lines of 28
characters. The PDF's stylesheet and the Word document's grid both take their measures from here, so
the two formats set the same page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PAGES_MM = {"A3": (297, 420), "A4": (210, 297), "A5": (148, 210), "B4": (250, 353), "B5": (176, 250),
            "letter": (215.9, 279.4), "legal": (215.9, 355.6)}
_POINTS = {"pt": 1.0, "mm": 72 / 25.4, "cm": 720 / 25.4, "in": 72.0, "px": 0.75}


def points(length: str | float, em: float = 16.0) -> float:
    """A length from the config (16pt, 37mm, 2.5cm, 1.5em) in points."""
    match = re.fullmatch(r"([\d.]+)\s*([a-z]*)", str(length).strip())
    number, unit = float(match.group(1)), match.group(2)
    if unit in ("em", "rem"):
        return number * em
    return number * _POINTS.get(unit or "pt", 1.0)


def page_name(document: Mapping) -> str:
    """The page's size without its orientation: A4 of "A4 landscape"."""
    return str(document["page"]).split(" ")[0]


def page_size(document: Mapping) -> tuple[float, float]:
    """The page's width and height in millimetres, as ``document.page`` names it (A4, A5 landscape, …)."""
    size, _, orientation = str(document["page"]).partition(" ")
    width, height = PAGES_MM[size]
    return (height, width) if orientation == "landscape" else (width, height)


def text_block(document: Mapping) -> tuple[float, float]:
    """The text block: the page less its margins, width and height in points."""
    width, height = page_size(document)
    margins = {side: points(value) for side, value in document["margins"].items()}
    mm = _POINTS["mm"]
    return width * mm - margins["left"] - margins["right"], height * mm - margins["top"] - margins["bottom"]


def grid(document: Mapping) -> tuple[float, float]:
    """The grid's character pitch and line pitch in points: the text block divided by ``chars_per_line`` and
    ``lines_per_page`` (GB/T 9704: 28 × 22); without them, the body size and ``line_height``."""
    width, height = text_block(document)
    body = points(document["body_size"])
    chars, lines = document.get("chars_per_line"), document.get("lines_per_page")
    return (width / chars if chars else body), (height / lines if lines else points(document["line_height"], body))
