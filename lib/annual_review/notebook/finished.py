"""What in a year's text is not finished: a stub still to fill in, a required part that says nothing, last year's
words carried over by ``annual-review new-year`` that no one has looked at since.

A final build and ``annual-review check`` refuse each, naming the file and line and what to do; a draft
(``build --draft``) is built all the same, each unfinished paragraph highlighted in the page.

How a carried paragraph is told from a kept one: ``new-year`` records a digest of every paragraph it copies,
in ``narrative/.carried.json``. A paragraph still matching its digest has not been touched. An author who
keeps last year's wording on purpose says so with ``{# 保留 #}`` in the paragraph (a comment: the report
never shows it); any edit to a paragraph also makes it the author's own.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.paths import narrative_dir, read_narrative, shown, year_dir
from ..core.paths import narratives as narrative_files

# The fill-in marks the toolkit's stubs carry (init, new-year), and the ones offices write by hand.
STUB = re.compile(r"【待填写[^】]*】|（请在此填写[^）]*）|……（[^）\n]{0,30}）")
KEEP = re.compile(r"\{#\s*保留\s*#\}")
CARRIED = ".carried.json"  # beside a year's narratives: the paragraphs new-year copied from the year before
_COMMENT = re.compile(r"\{#.*?#\}", re.S)
PROVENANCE_FILE = "provenance.md"


@dataclass(frozen=True)
class Unfinished:
    """One thing not finished, where it is and what to do."""

    file: Path
    line: int
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{shown(self.file)}, line {self.line}: {self.what}; {self.fix}"


def paragraphs(text: str) -> list[tuple[int, str]]:
    """The paragraphs of a narrative (runs of lines between blank lines), each with the line it starts on."""
    found, start, lines = [], None, []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            start = start or number
            lines.append(line)
        elif lines:
            found.append((start, "\n".join(lines)))
            start, lines = None, []
    if lines:
        found.append((start, "\n".join(lines)))
    return found


def digest(paragraph: str) -> str:
    """What a paragraph says, comments and spacing aside: two paragraphs with the same digest read alike."""
    said = re.sub(r"\s+", "", _COMMENT.sub("", paragraph))
    return hashlib.sha256(said.encode("utf-8")).hexdigest()[:20]


def record_carried(folder: Path, year_from: int, texts: dict[str, str]) -> dict:
    """What ``new-year`` writes to ``<folder>/.carried.json``: each carried narrative's paragraph digests."""
    return {"from": year_from, "paragraphs": {name: [digest(p) for _, p in paragraphs(text) if _COMMENT.sub("", p).strip()]
                                              for name, text in texts.items()}}


def carried(folder: Path) -> tuple[int | None, dict[str, set[str]]]:
    """The year narratives were carried from, and each one's carried paragraph digests (none if nothing was)."""
    try:
        record = json.loads((folder / CARRIED).read_text(encoding="utf-8"))
        return int(record["from"]), {str(k): set(map(str, v)) for k, v in dict(record["paragraphs"]).items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None, {}


def unfinished_paragraphs(text: str, name: str, carried_from: int | None, carried_digests: dict[str, set[str]]):
    """(line, what, fix) for each unfinished paragraph of the narrative ``name`` (its file name)."""
    found = []
    for line, paragraph in paragraphs(text):
        stub = STUB.search(paragraph)
        if stub:
            offset = paragraph[: stub.start()].count("\n")
            found.append((line + offset, f"a stub still to fill in: “{stub.group()}”",
                          "write the text in its place (待填写：请用本单位的内容替换)"))
        elif (_COMMENT.sub("", paragraph).strip() and not KEEP.search(paragraph)
              and digest(paragraph) in carried_digests.get(name, set())):
            found.append((line, f"carried over from {carried_from} by new-year and not changed since",
                          f"bring it up to date, or add {{# 保留 #}} to the paragraph to keep {carried_from}'s wording "
                          f"on purpose (沿用{carried_from}年原文，请修改或确认保留)"))
    return found


def says_nothing(text: str) -> bool:
    """Whether a narrative shows nothing: only comments and blank lines."""
    return not _COMMENT.sub("", text).strip()


def unfinished(config, data_dir: str | Path, year: int) -> list[Unfinished]:
    """Everything not finished in ``year``'s narratives and provenance note, in file and line order."""
    from ..core.config import REQUIRED_ITEMS

    folder = year_dir(data_dir, year)
    narratives = narrative_dir(data_dir, year)
    carried_from, digests = carried(narratives)
    found: list[Unfinished] = []
    inside, outside = narrative_files(data_dir, year)
    found += [Unfinished(path, 1, "a link to a file outside the narrative folder; it was not read",
                         "copy the file into the folder instead") for path in outside]
    for path in inside:
        text = read_narrative(path)
        found += [Unfinished(path, line, what, fix) for line, what, fix in
                  unfinished_paragraphs(text, path.name, carried_from, digests)]
    note = folder / PROVENANCE_FILE
    if note.is_file():
        for number, line in enumerate(note.read_text(encoding="utf-8-sig").splitlines(), 1):
            stub = STUB.search(line)
            if stub:
                found.append(Unfinished(note, number, f"a stub still to fill in: “{stub.group()}”",
                                        "say where this year's figures come from (请写明数据来源)"))
    required = [item for item in REQUIRED_ITEMS if item != "other"]
    outline = config.all_sections() if config is not None else []
    for section in outline:
        name = section.parameters.get("section")
        if not isinstance(name, str) or not (section.required or set(section.covers) & set(required)):
            continue
        path = narratives / f"{name}.md"
        if path in inside and says_nothing(read_narrative(path)):
            heading = config.heading(section, year) or section.id
            found.append(Unfinished(path, 1, f"the part '{heading}' says nothing (only comments or blank lines)",
                                    "write it: the 2019 rules ask every report for it (本部分为必报内容，不能为空)"))
    return found
