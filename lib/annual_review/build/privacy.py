"""Personal data must not be published by accident.

Before a report is published, everything it publishes is scanned for resident
identity card numbers (18 digits with a valid check digit, GB 11643), mainland
mobile numbers and e-mail addresses: the config's text and the narrative files
(by file and line), what each section shows — narrative, table cells, chart titles,
labels, alt text and captions (by section and element) — and the finished HTML,
Word and PDF files and the index page. Numbers are found however they are written:
full-width digits (１３８…), or split by spaces, no-break or ideographic spaces,
dots or hyphens. Each finding says where it is, masked, so it can be removed at
the source.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from ..core.exceptions import BuildError

# After NFKC (full-width digits → ASCII, no-break and ideographic spaces → space), what may split a number: a line
# break too (a narrative's paragraph runs on over its lines, and a reader reads it joined).
_SEP = r"[ \t\r\n\-.·・_‐‑‒–—]"
# Neither may be a piece of a longer run of digits (split the same way): a date range is no phone number.
_ID = re.compile(rf"(?<![0-9A-Za-z])(?<!\d{_SEP})[1-9](?:{_SEP}?\d){{16}}{_SEP}?[0-9Xx](?![0-9A-Za-z])(?!{_SEP}\d)")
_MOBILE = re.compile(rf"(?<!\d)(?<!\d{_SEP})(?:\+?86{_SEP}?)?1{_SEP}?[3-9](?:{_SEP}?\d){{9}}(?![\dXx])(?!{_SEP}\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SPLIT = re.compile(_SEP)


def valid_id_number(number: str) -> bool:
    """Whether an 18-character resident ID number's last character is its GB 11643 check digit."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS))
    return _CHECK[total % 11] == number[17].upper()


@dataclass(frozen=True)
class Finding:
    kind: str
    text: str
    where: str

    def masked(self) -> str:
        keep = 3 if len(self.text) > 8 else 1
        return self.text[:keep] + "*" * (len(self.text) - 2 * keep) + self.text[-keep:]

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} {self.masked()}"


def scan(text: str, where: str) -> list[Finding]:
    """Personal data in ``text``; ``where`` names its place (file and line, or section and element)."""
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n")  # (a line break saved by Windows is one break)
    found = []
    for match in _ID.finditer(text):
        number = _SPLIT.sub("", match.group())
        if valid_id_number(number):
            found.append(Finding("身份证号码 (resident ID number)", number, where))
            text = text[: match.start()] + "#" * len(match.group()) + text[match.end():]  # its digits are no phone
    found += [Finding("手机号码 (mobile number)", _SPLIT.sub("", m.group()), where) for m in _MOBILE.finditer(text)]
    found += [Finding("电子邮箱 (e-mail address)", m.group(), where) for m in _EMAIL.finditer(text)]
    return found


# Markdown's inline marks and HTML tags: a reader sees the digits around them run together (138**1234**5678).
_MARKS = re.compile(r"<[^<>\n]*>|[*`~]")


def scan_lines(text: str, source: str) -> list[Finding]:
    """Like :func:`scan`, over the whole text as a reader reads it (a number split over two lines, or by emphasis or
    a tag, is still found), each finding naming ``source`` and the line it starts on."""
    found: dict[tuple[str, str], Finding] = {}
    for version in (text, _MARKS.sub("", text)):  # (the marks never hold a line break: lines stay where they were)
        normalised = unicodedata.normalize("NFKC", version).replace("\r\n", "\n")
        for finding in scan(version, source):
            start = _start(normalised, finding.text)
            line = normalised.count("\n", 0, start) + 1 if start >= 0 else 1
            found.setdefault((finding.kind, finding.text), Finding(finding.kind, finding.text, f"{source}, line {line}"))
    return list(found.values())


def scan_records(text: str, source: str) -> list[Finding]:
    """Like :func:`scan_lines`, for data written a record (CSV) or a field (JSON) a line, where nothing runs from one
    line into the next: each line on its own, and a line met before is not read again (a preview's rebuild changes a
    few figures of hundreds)."""
    found: dict[tuple[str, str], Finding] = {}
    for n, line in enumerate(text.splitlines(), 1):
        for kind, number in _line_findings(line):
            found.setdefault((kind, number), Finding(kind, number, f"{source}, line {n}"))
    return list(found.values())


@functools.lru_cache(maxsize=8192)
def _line_findings(line: str) -> tuple:
    return tuple((f.kind, f.text) for f in scan_lines(line, ""))


def _start(text: str, number: str) -> int:
    """Where a number found in ``text`` starts, however it was split (its characters may be apart)."""
    match = re.search(rf"{_SEP}*".join(re.escape(c) for c in number), text)
    return match.start() if match else -1


# --- what is published ----------------------------------------------------------------------------

_ATTRIBUTES = ("alt", "title", "aria-label", "content", "href", "data-section")
# The blocks a reader reads as one text (a table cell, a paragraph, a heading, …): scanned each whole, never two
# cells' digits run together.
_BLOCKS = ["p", "li", "td", "th", "caption", "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "title", "dt", "dd", "pre",
           "blockquote", "div", "footer", "header", "nav", "section", "main", "article", "body", "figure", "table", "a"]
_BLOCK_NAMES = frozenset(_BLOCKS)
_ELEMENTS = {"td": "table cell", "th": "table heading", "caption": "table caption", "figcaption": "chart caption",
             "h1": "title", "h2": "heading", "h3": "heading", "h4": "heading", "h5": "heading", "h6": "heading",
             "p": "paragraph", "li": "list item", "title": "page title", "a": "link"}


def scan_html(markup: str, name: str) -> list[Finding]:
    """Personal data in a published page: each text and attribute, named by section and element."""
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(markup, "html.parser")
    found = []

    def place(tag) -> str:
        section = tag.find_parent("section", attrs={"data-section": True}) if tag is not None else None
        element = next((_ELEMENTS[t.name] for t in [tag, *(tag.parents if tag is not None else [])]
                        if t is not None and t.name in _ELEMENTS), tag.name if tag is not None else "text")
        where = f"section '{section['data-section']}', " if section is not None else ""
        if tag is not None and tag.find_parent("footer") is not None:
            where = "footer, "
        return f"{name}: {where}{element}"

    for comment in soup.find_all(string=lambda t: isinstance(t, Comment)):
        comment.extract()
    for hidden in soup.find_all(["style", "script"]):
        hidden.decompose()
    blocks = soup.find_all(_BLOCKS)
    holding = set()  # blocks with blocks of their own inside, each of which is read as one
    for block in blocks:
        holder = next((p for p in block.parents if p.name in _BLOCK_NAMES), None)
        if holder is not None:
            holding.add(id(holder))
    for block in blocks:
        text = block.get_text("") if id(block) not in holding else ""  # as a reader sees it: a number split by
        if text.strip() and scan(text, ""):  # markup (a span, a line break) joined; its place named when found
            found += scan(text, place(block))
    for tag in soup.find_all(True):
        for attribute in _ATTRIBUTES:
            value = tag.get(attribute)
            if isinstance(value, str) and not value.startswith("data:") and scan(value, ""):
                kind = "image alt text" if attribute == "alt" else f"{attribute} attribute"
                found += scan(value, f"{place(tag)} ({kind})")
    return found


def scan_docx(data: bytes, name: str = "report.docx") -> list[Finding]:
    """Personal data in a Word document's paragraphs and table cells."""
    import io

    import docx

    document = docx.Document(io.BytesIO(data))
    found = []
    core = document.core_properties
    for field in ("title", "subject", "author", "last_modified_by", "keywords", "comments", "category"):
        found += scan(str(getattr(core, field) or ""), f"{name}, document properties ({field})")
    for n, paragraph in enumerate(document.paragraphs, 1):
        found += scan(paragraph.text, f"{name}, paragraph {n}")
    for t, table in enumerate(document.tables, 1):
        for r, row in enumerate(table.rows, 1):
            for cell in row.cells:
                found += scan(cell.text, f"{name}, table {t}, row {r}")
    for section in document.sections:
        for paragraph in [*section.header.paragraphs, *section.footer.paragraphs]:
            found += scan(paragraph.text, f"{name}, page header or footer")
    return found


def scan_pdf(data: bytes, name: str = "report.pdf") -> list[Finding]:
    """Personal data in a PDF's text, page by page, as poppler's ``pdftotext`` (what PDF viewers use) extracts it.

    Without poppler (``make system-deps`` installs it) the check cannot run, and a check that cannot run never
    passes: :class:`ReadBackError`, and nothing is published.
    """
    import shutil
    import subprocess
    import tempfile

    tool, info = shutil.which("pdftotext"), shutil.which("pdfinfo")
    if tool is None or info is None:
        raise ReadBackError(f"{name}: it could not be read back for personal data: poppler's pdftotext is missing "
                            "(make system-deps installs poppler-utils); the PDF was not published")
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        text = subprocess.run([tool, "-enc", "UTF-8", "-layout", handle.name, "-"], capture_output=True,
                              timeout=120).stdout.decode("utf-8", errors="replace")
        properties = subprocess.run([info, "-enc", "UTF-8", handle.name], capture_output=True,
                                    timeout=60).stdout.decode("utf-8", errors="replace")
    found = [f for line in properties.splitlines() if line.startswith(("Title:", "Author:", "Subject:", "Keywords:"))
             for f in scan(line.split(":", 1)[1], f"{name}, document properties ({line.split(':', 1)[0]})")]
    return found + [f for n, page in enumerate(text.split("\f"), 1) for f in scan_lines(page, f"{name}, page {n}")]


class ReadBackError(BuildError):
    """A published file could not be read back for personal data: the check did not run, so nothing is published."""


@functools.lru_cache(maxsize=512)
def _html_text(markup: str) -> str:
    """An output's markup as text (kept: a preview's rebuild reads again only the outputs that changed)."""
    from bs4 import BeautifulSoup

    return BeautifulSoup(markup, "html.parser").get_text(" ")


def scan_notebook(notebook, name: str) -> list[Finding]:
    """Personal data in an executed notebook kept with the report: every cell's source and every output."""
    found = []
    for n, cell in enumerate(notebook.get("cells", []), 1):
        where = f"{name}, cell {n}"
        source = cell.get("source", "")
        found += scan("".join(source) if isinstance(source, list) else str(source), where)
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            texts = [output.get("text", ""), output.get("evalue", ""), "\n".join(output.get("traceback", []))]
            for kind, value in (output.get("data") or {}).items():
                if kind == "text/html":
                    texts.append(_html_text("".join(value) if isinstance(value, list) else str(value)))
                elif kind.startswith("text/") or kind.endswith("json"):
                    texts.append("".join(value) if isinstance(value, list) else str(value))
            metadata = output.get("metadata") or {}
            texts += [str(metadata.get("image/png", {}).get("alt", "")), str(metadata.get("caption", ""))]
            found += [f for text in texts if text for f in scan("".join(text) if isinstance(text, list) else text,
                                                                f"{where}, output")]
    return found


def scan_published(files: dict[str, bytes]) -> list[Finding]:
    """Personal data in the files a build is about to publish.

    Every place in the HTML is named; the Word and PDF versions, made from it, add only
    what the HTML did not already show.
    """
    found: list[Finding] = []
    for name in files:  # the files' own names are published too
        found += scan(name, f"{name} (the file's name)")
    for name, data in files.items():
        if name.endswith(".html"):
            found += scan_html(data.decode("utf-8"), name)
        elif name.endswith((".csv", ".json")):  # the figures as data, each line as published
            found += scan_records(data.decode("utf-8-sig"), name)
    seen = {(f.kind, f.text) for f in found}
    for name, data in files.items():
        derived = scan_docx(data, name) if name.endswith(".docx") else scan_pdf(data, name) if name.endswith(".pdf") else []
        for finding in derived:
            if (finding.kind, finding.text) not in seen:
                seen.add((finding.kind, finding.text))
                found.append(finding)
    return found
