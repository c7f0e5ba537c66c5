"""Every figure a report publishes, as data: ``figures.csv`` (UTF-8 with a BOM, so Excel and WPS open it right) and
``figures.json`` beside the report — one record per figure, in the order the draft's sources appendix numbers
them, so the two always agree.

A record: its number, the section, where it stands (text, table or chart), its label as printed (the table row and
column, or the words before it in the text), the figure as printed (2600多) and the number it says (2618), its unit,
last year's figure and the change where the report shows them, and its source — register, year, filter,
aggregation, rows counted and, for a figure from three rows or fewer, their numbers in
the register's file — as the appendix gives it.
"""

from __future__ import annotations

import csv
import io
import json
import re

from bs4 import Tag

from ..core import provenance

CSV_FILE, JSON_FILE = "figures.csv", "figures.json"
FIELDS = ("number", "section", "kind", "label", "printed", "value", "unit", "last_year", "change", "source",
          "register", "year", "filters", "aggregation", "rows", "row_numbers")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_UNIT = re.compile(r"[（(]([^（）()]{1,12})[）)]$")
_CLAUSE = re.compile(r"[，。；：,;:！？]")


def records(marked: list[Tag]) -> list[dict]:
    """The records of the figures ``marked`` (the page's elements with a ``data-source``, in order)."""
    found = []
    for n, element in enumerate(marked, 1):
        source = element.get("data-source", "")
        section = element.find_parent("section", attrs={"data-section": True})
        heading = section.find(["h2", "h3"]) if section is not None else None
        record = {"number": n, "section": heading.get_text("", strip=True) if heading else "",
                  "kind": "text", "label": "", "printed": element.get_text("", strip=True), "value": "", "unit": "",
                  "last_year": "", "change": ""}
        column = ""
        if element.name == "td":
            cell = _cell(element)
            column = cell.pop("column")
            record.update(cell)
        elif element.name == "figure":
            picture = element.find("img")
            record.update(kind="chart", printed="", label=(picture.get("alt", "").split("。")[0] if picture else ""))
        else:
            record["label"] = _before(element)
            if element.get("data-value"):
                record["value"] = element["data-value"]
        full = f"{source}，列：{column}" if column else source
        record.update(source=full, **provenance.parse(source))
        found.append(record)
    return found


def _before(span: Tag) -> str:
    """The words before a figure in its sentence: its label as printed (全年资助学前教育幼儿)."""
    block = span.find_parent(["p", "li", "h2", "h3", "h4", "h5", "h6"])
    if block is None:
        return ""
    text = ""
    for piece in block.find_all(string=True):
        if span in piece.parents:
            break
        text += piece
    return _CLAUSE.split(text)[-1].strip()[-30:]


def _row(cell: Tag) -> tuple[list[Tag], list[str]]:
    """The cells of a table cell's row, and the header of each (its table's first row; none for that row itself)."""
    row, table = cell.find_parent("tr"), cell.find_parent("table")
    first = table.find("tr") if table is not None else None
    cells = row.find_all(["td", "th"], recursive=False) if row is not None else []
    if first is None or first is row:
        return cells, []
    return cells, [h.get_text("", strip=True) for h in first.find_all(["th", "td"], recursive=False)]


def _cell(cell: Tag) -> dict:
    """A table cell's record: its row's label and its column, its number and unit; in a comparison table (its
    columns are years and 较上年) last year's figure and the change beside it; and ``column``, the header of its
    column (its table's first row) as the reader sees it."""
    cells, headers = _row(cell)
    index = next((i for i, c in enumerate(cells) if c is cell), -1)  # by identity: two cells alike are equal
    column = headers[index] if 0 <= index < len(headers) else ""
    label = cells[0].get_text("", strip=True) if cells and cells[0] is not cell else ""
    printed = cell.get_text("", strip=True)
    number = _NUMBER.search(printed)
    unit = _UNIT.search(column) or _UNIT.search(label)
    record = {"kind": "table", "label": f"{label}｜{column}" if label else column, "printed": printed,
              "value": number.group().replace(",", "") if number and number.group() == printed.replace("—", "") else "",
              "unit": unit.group(1) if unit else "", "column": column}
    if re.fullmatch(r"\d{4}年", column):
        last = f"{int(column[:4]) - 1}年"
        for header, other in zip(headers, cells):
            if header == last:
                record["last_year"] = other.get_text("", strip=True)
            elif header == "较上年":
                record["change"] = other.get_text("", strip=True)
    return record


def csv_bytes(found: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(found)
    return buffer.getvalue().encode("utf-8-sig")  # with the BOM: Excel and WPS read it as UTF-8


def json_bytes(found: list[dict], *, title: str, body: str, year: int) -> bytes:
    document = {"title": title, "publisher": body, "year": year, "fields": list(FIELDS),
                "figures": [{k: r.get(k, "") for k in FIELDS} for r in found]}
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
