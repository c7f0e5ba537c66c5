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

import re
import unicodedata
from dataclasses import dataclass

# After NFKC (full-width digits → ASCII, no-break and ideographic spaces → space), what may split a number.
_SEP = r"[ \t\-.·・_‐‑‒–—]"
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
    text = unicodedata.normalize("NFKC", text)
    found = []
    for match in _ID.finditer(text):
        number = _SPLIT.sub("", match.group())
        if valid_id_number(number):
            found.append(Finding("身份证号码 (resident ID number)", number, where))
            text = text[: match.start()] + "#" * len(match.group()) + text[match.end():]  # its digits are no phone
    found += [Finding("手机号码 (mobile number)", _SPLIT.sub("", m.group()), where) for m in _MOBILE.finditer(text)]
    found += [Finding("电子邮箱 (e-mail address)", m.group(), where) for m in _EMAIL.finditer(text)]
    return found


def scan_lines(text: str, source: str) -> list[Finding]:
    """Like :func:`scan`, line by line, each finding naming ``source`` and its line."""
    return [f for n, line in enumerate(text.splitlines(), 1) for f in scan(line, f"{source}, line {n}")]


# --- what is published ----------------------------------------------------------------------------

_ATTRIBUTES = ("alt", "title", "aria-label", "content", "href", "data-section")
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

    for text in soup.find_all(string=True):
        if isinstance(text, Comment) or text.parent is None or text.parent.name in ("style", "script"):
            continue
        if text.strip():
            found += scan(str(text), place(text.parent))
    for tag in soup.find_all(True):
        for attribute in _ATTRIBUTES:
            value = tag.get(attribute)
            if isinstance(value, str) and not value.startswith("data:"):
                kind = "image alt text" if attribute == "alt" else f"{attribute} attribute"
                found += scan(value, f"{place(tag)} ({kind})")
    return found


def scan_docx(data: bytes, name: str = "report.docx") -> list[Finding]:
    """Personal data in a Word document's paragraphs and table cells."""
    import io

    import docx

    document = docx.Document(io.BytesIO(data))
    found = []
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

    Without poppler (``make system-deps`` installs it) the PDF is not read back; it is made
    from the HTML, which is scanned in any case.
    """
    import shutil
    import subprocess
    import tempfile

    tool = shutil.which("pdftotext")
    if tool is None:
        return []
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        text = subprocess.run([tool, "-enc", "UTF-8", "-layout", handle.name, "-"], capture_output=True,
                              timeout=120).stdout.decode("utf-8", errors="replace")
    return [f for n, page in enumerate(text.split("\f"), 1) for f in scan_lines(page, f"{name}, page {n}")]


def scan_published(files: dict[str, bytes]) -> list[Finding]:
    """Personal data in the files a build is about to publish.

    Every place in the HTML is named; the Word and PDF versions, made from it, add only
    what the HTML did not already show.
    """
    found: list[Finding] = []
    for name, data in files.items():
        if name.endswith(".html"):
            found += scan_html(data.decode("utf-8"), name)
    seen = {(f.kind, f.text) for f in found}
    for name, data in files.items():
        derived = scan_docx(data, name) if name.endswith(".docx") else scan_pdf(data, name) if name.endswith(".pdf") else []
        for finding in derived:
            if (finding.kind, finding.text) not in seen:
                seen.add((finding.kind, finding.text))
                found.append(finding)
    return found
