"""What changed between two builds of a report (``annual-review diff OLD NEW``), and a draft marked with it (a
redline: ``build --draft --redline``): so the second round of reviewers reads only what moved.

Paragraphs, headings and table rows are compared section by section, as a reader reads them; figures from data
(a draft's) by their source; and each changed section says why, from the two builds' records: its notebook, a
narrative, a register, or the library.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup, Tag

from .manifest import BuildRecord
from ..core.exceptions import DataError
from ..core.outputs import REPORT_FILE

BLOCKS = ["h2", "h3", "h4", "h5", "h6", "p", "li", "tr", "figcaption"]
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|.", re.S)


@dataclass(frozen=True)
class Change:
    section: str
    kind: str  # "changed", "added", "removed"
    old: str = ""
    new: str = ""


def blocks(page: str) -> dict[str, list[str]]:
    """Each section's blocks (paragraphs, headings, table rows, captions) as a reader reads them, in order."""
    soup = _as_it_stands(page)
    main = soup.find("main")
    found: dict[str, list[str]] = {}
    for section in main.find_all("section", attrs={"data-section": True}) if main else []:
        texts = found.setdefault(section["data-section"], [])
        for element in section.find_all(BLOCKS):
            if element.find_parent("section", attrs={"data-section": True}) is not section:
                continue
            if element.name == "p" and element.find_parent(["li", "td", "th"]) is not None:
                continue
            text = (" | ".join(c.get_text("", strip=True) for c in element.find_all(["th", "td"]))
                    if element.name == "tr" else element.get_text("", strip=True))
            if text:
                texts.append(text)
    return found


def figures(page: str) -> dict[tuple[str, int], str]:
    """A draft's figures from data: (source, its n-th use) → the figure as printed (a published report has none)."""
    soup = _as_it_stands(page)
    found: dict[tuple[str, int], str] = {}
    for figure in soup.select(".ar-fig[title]"):
        source = figure.get("title", "").removeprefix("数据来源：")
        found[(source, sum(1 for s, _ in found if s == source))] = figure.get_text("", strip=True)
    return found


def _plain(element: Tag) -> str:
    return "".join(s.strip() for s in element.find_all(string=True) if s.find_parent(class_="ar-fig-ref") is None)


def _as_it_stands(page: str) -> BeautifulSoup:
    """A page as a reader of its text takes it: a redlined draft without what it marks as removed, a draft without
    its figures' numbers."""
    soup = BeautifulSoup(page, "html.parser")
    for mark in soup.select("del, .ar-removed, .ar-redline-note, .ar-fig-ref"):  # (a draft's figure numbers move)
        mark.decompose()
    for mark in soup.find_all("ins"):
        mark.unwrap()
    return soup


def compare(old_page: str, new_page: str) -> list[Change]:
    old, new = blocks(old_page), blocks(new_page)
    changes: list[Change] = []
    for section in [*new, *(s for s in old if s not in new)]:
        a, b = old.get(section, []), new.get(section, [])
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if op == "equal":
                continue
            pairs = max(i2 - i1, j2 - j1)
            for k in range(pairs):
                before = a[i1 + k] if i1 + k < i2 else ""
                after = b[j1 + k] if j1 + k < j2 else ""
                kind = "changed" if before and after else ("added" if after else "removed")
                changes.append(Change(section, kind, before, after))
    return changes


def reasons(old: BuildRecord, new: BuildRecord) -> dict[str, list[str]]:
    """Why each section's output may differ, from the two builds' records: notebook, narrative, register, library."""
    why: dict[str, list[str]] = {}
    for section, record in new.sections.items():
        before = old.section(section)
        said: list[str] = []
        if before is None:
            said.append("新增部分 (a new section)")
        else:
            if record.notebook_digest != before.notebook_digest:
                said.append(f"笔记本 {record.notebook} 有改动 (notebook changed)")
            if record.parameters != before.parameters:
                said.append("参数有改动 (parameters changed)")
            if record.library != before.library:
                said.append("工具库有改动 (library changed)")
            inputs_old, inputs_new = before.inputs or {}, record.inputs or {}
            for path in sorted(set(inputs_old) | set(inputs_new)):
                if inputs_old.get(path) != inputs_new.get(path):
                    name = Path(path).name
                    kind = "叙述文本 (narrative)" if Path(path).parent.name == "narrative" else "登记表 (register)"
                    said.append(f"{kind} {name} 有改动")
        why[section] = said
    return why


def diff(old_dir: Path, new_dir: Path) -> list[str]:
    """The changes from the build in ``old_dir`` (an output folder of one year) to the one in ``new_dir``, in words."""
    pages = []
    for folder in (old_dir, new_dir):
        report = Path(folder) / REPORT_FILE
        if not report.is_file():
            raise DataError(f"{folder}: no {REPORT_FILE} (give the output folder of one year's build, "
                            "such as outputs/2020)")
        pages.append(report.read_text(encoding="utf-8"))
    changes = compare(*pages)
    why = reasons(BuildRecord.load(Path(old_dir)), BuildRecord.load(Path(new_dir)))
    lines: list[str] = []
    current = None
    for change in changes:
        if change.section != current:
            current = change.section
            because = "；".join(why.get(current) or []) or "原因不明（两次生成的记录相同）"
            lines.append(f"部分 {current}：{because}")
        if change.kind == "changed":
            lines += [f"  改：{_short(change.old)}", f"    → {_short(change.new)}", *_words(change.old, change.new)]
        elif change.kind == "added":
            lines.append(f"  增：{_short(change.new)}")
        else:
            lines.append(f"  删：{_short(change.old)}")
    old_figures, new_figures = figures(pages[0]), figures(pages[1])
    moved = [(key[0], old_figures[key], new_figures[key]) for key in new_figures
             if key in old_figures and old_figures[key] != new_figures[key]]
    for source, before, after in moved:
        lines.append(f"数据：{before} → {after}（{source}）")
    lines.append(f"共 {len(changes)} 处段落或表格行有变化，{len(moved)} 个数据有变化"
                 if changes or moved else "两次生成的报告内容相同 (no change a reader would see)")
    return lines


def _short(text: str, width: int = 80) -> str:
    return text if len(text) <= width else text[:width] + "…"


def edits(old: str, new: str) -> list[tuple[str, str, str]]:
    """The text as ("equal" | "changed", removed, added) pieces, neighbouring changes taken as one (a number changes
    whole: 156 → 166, never a 5 removed beside a 6 added)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)  # a number is one token: 156 → 166, not 5 → 6
    pieces: list[tuple[str, str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        removed, added = "".join(a[i1:i2]), "".join(b[j1:j2])
        if op == "equal":
            pieces.append(("equal", removed, added))
        elif pieces and pieces[-1][0] == "changed":
            pieces[-1] = ("changed", pieces[-1][1] + removed, pieces[-1][2] + added)
        else:
            pieces.append(("changed", removed, added))
    return pieces


def _words(old: str, new: str) -> list[str]:
    """The words that changed inside a paragraph: 「old」→「new」, each."""
    return [f"      「{a}」→「{b}」" for kind, a, b in edits(old, new) if kind == "changed"][:6]


def redline(old_page: str, new_page: str) -> str:
    """``new_page`` with what changed since ``old_page`` marked: inside a changed paragraph the words removed in
    ``<del>`` and the words added in ``<ins>``; a new paragraph wholly in ``<ins>``; a removed one as a ``<del>``
    paragraph where it stood. The Word version turns them into tracked changes."""
    old = blocks(old_page)
    soup = BeautifulSoup(new_page, "html.parser")
    main = soup.find("main")
    marked = 0
    for section in main.find_all("section", attrs={"data-section": True}) if main else []:
        elements = [e for e in section.find_all(["h2", "h3", "h4", "h5", "h6", "p", "li"])
                    if e.find_parent("section", attrs={"data-section": True}) is section
                    and e.find_parent(["figure", "li", "td", "th"]) is None and e.get_text("", strip=True)]
        texts = [_plain(e) for e in elements]
        previous = [t for t in old.get(section["data-section"], []) if " | " not in t]
        matcher = difflib.SequenceMatcher(None, previous, texts, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                continue
            for k in range(max(i2 - i1, j2 - j1)):
                before = previous[i1 + k] if i1 + k < i2 else None
                element = elements[j1 + k] if j1 + k < j2 else None
                if element is not None:
                    _mark(soup, element, before or "")
                elif before is not None:
                    anchor = elements[j1 - 1] if j1 else None
                    gone = soup.new_tag("p", attrs={"class": "ar-removed"})
                    deleted = soup.new_tag("del")
                    deleted.string = before
                    gone.append(deleted)
                    (anchor.insert_after(gone) if anchor is not None else section.insert(0, gone))
                marked += 1
    if marked and main is not None:
        note = soup.new_tag("p", attrs={"class": "ar-redline-note"})
        note.string = f"修订标记：与上一稿相比，{marked} 处段落有变化（删去的文字加删除线，新增的文字加下划线）。"
        main.insert(0, note)
    return str(soup)


def _mark(soup, element: Tag, before: str) -> None:
    """``element``'s text marked against ``before``: removed words in ``<del>`` and added ones in ``<ins>``, each
    placed inside the node it falls in, so a figure keeps its mark (and its source) around its new value."""
    strings = [s for s in element.find_all(string=True) if s.strip() and s.find_parent(class_="ar-fig-ref") is None]
    after = "".join(s.strip() for s in strings)
    pieces, at = [], 0
    for kind, removed, added in edits(before, after):
        pieces.append((kind, removed, added, at))
        at += len(added)
    start = 0
    for index, node in enumerate(strings):
        text = node.strip()
        end, last = start + len(text), index == len(strings) - 1
        replacement = []
        for kind, removed, added, begin in pieces:
            if kind == "changed" and removed and (start <= begin < end or (last and begin == end)):
                tag = soup.new_tag("del")
                tag.string = removed
                replacement.append(tag)
            low, high = max(begin, start), min(begin + len(added), end)
            if low < high:
                if kind == "equal":
                    replacement.append(added[low - begin:high - begin])
                else:
                    tag = soup.new_tag("ins")
                    tag.string = added[low - begin:high - begin]
                    replacement.append(tag)
        for item in replacement:
            node.insert_before(item)
        node.extract()
        start = end
    if not strings and before:  # a paragraph emptied
        tag = soup.new_tag("del")
        tag.string = before
        element.append(tag)
