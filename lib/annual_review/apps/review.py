"""The review round trip: reviewers' comments (批注) and tracked changes (修订) in copies of a draft's Word version,
taken back to the narrative lines they belong to (``annual-review review``), and with ``--apply`` the accepted
wording written into the narrative files.

A draft's Word version carries a bookmark on every paragraph that came from a narrative (``ar_<file>_<line>``,
see :mod:`annual_review.build.word`) and on every figure from data (``arf_<n>``, its source in the document's
properties). Word, WPS and LibreOffice keep bookmarks through edits; a paragraph a reviewer split keeps the
anchor of the one it came from, and one that lost its bookmark is matched by its text (and said so).

Only wording is ever applied: a change must fall on the narrative's own words, found once in its paragraph,
never on a placeholder's output. A change to a figure is reported against its register; two reviewers changing
the same sentence differently is a conflict; both are listed and left alone.
"""

from __future__ import annotations

import difflib
import json
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from ..build.word import ANCHOR, FIGURE, FIGURES_PROPERTY, anchor_name
from ..core import provenance
from ..core.exceptions import DataError
from ..core.files import write_atomic
from ..core.paths import NARRATIVE_DIR, shown

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_SENTENCE_END = "。！？；!?;"
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


def _q(tag: str) -> str:
    return f"{{{W}}}{tag}"


@dataclass
class Remark:
    """One comment or one tracked change, and where it belongs."""

    kind: str  # "comment" or "change"
    reviewer: str
    date: str
    source: str  # the reviewed file's name
    where: str = ""  # <year>/narrative/<name>.md:<line>, or "" (a table, the title, …)
    located: str = "bookmark"  # how: bookmark, split paragraph, text match, table
    context: str = ""  # the table's caption, when not in a narrative
    old: str = ""  # the paragraph's text before the changes
    start: int = 0  # the remark's place in ``old``
    end: int = 0
    deleted: str = ""
    inserted: str = ""
    comment: str = ""
    figures: list = field(default_factory=list)  # sources of the figures it touches

    @property
    def sentence(self) -> str:
        """The sentence of the paragraph the remark falls in."""
        pivot = self.start
        if pivot and pivot == self.end and self.old[pivot - 1] in _SENTENCE_END:  # added after a sentence: that one
            pivot -= 1
        begin = max((self.old.rfind(c, 0, pivot) for c in _SENTENCE_END), default=-1) + 1
        ends = [i for i in (self.old.find(c, max(self.end, self.start)) for c in _SENTENCE_END) if i >= 0]
        return self.old[begin:(min(ends) + 1) if ends else len(self.old)].strip()

    def said(self) -> str:
        who = f"{self.reviewer or '未署名'}，{self.date[:10] or '日期不详'}，{self.source}"
        if self.kind == "comment":
            quoted = self.old[self.start:self.end]
            about = f"（针对「{quoted[:40]}{'…' if len(quoted) > 40 else ''}」）" if quoted else ""
            return f"批注（{who}）：{self.comment}{about}"
        if self.deleted and self.inserted:
            what = f"将「{self.deleted}」改为「{self.inserted}」"
        elif self.deleted:
            what = f"删去「{self.deleted}」"
        else:
            what = f"在「{self.old[max(0, self.start - 8):self.start]}」后插入「{self.inserted}」"
        return f"修订（{who}）：{what}"


def read_remarks(path: Path, narratives: dict[str, Path]) -> list[Remark]:
    """Every comment and tracked change in the reviewed copy ``path``; ``narratives`` maps each anchor's file part
    (``2020/narrative/opening.md``) to its file, for anchors and text matching."""
    try:
        with zipfile.ZipFile(path) as package:
            body = etree.fromstring(package.read("word/document.xml"))
            comments = _comments(package)
            figures = _figure_sources(package)
    except (OSError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError) as exc:
        raise DataError(f"{path}: not a Word document this toolkit can read ({type(exc).__name__}: {exc})") from None
    by_hash = {anchor_name(f"{where}:0").rsplit("_", 1)[0]: where for where in narratives}
    blocks = _blocks(narratives)
    remarks: list[Remark] = []
    open_comments: dict[str, tuple[Remark, int]] = {}
    last_anchor = ""
    caption = ""
    for paragraph in body.iter(_q("p")):
        in_table = any(a.tag == _q("tbl") for a in paragraph.iterancestors())
        segments, names, marks = _segments(paragraph)
        old = "".join(text for status, text, *_ in segments if status != "ins")
        style = paragraph.find(f"{_q('pPr')}/{_q('pStyle')}")
        if style is not None and style.get(_q("val"), "").lower() == "caption" and not in_table:
            caption = old
        anchors = [n for n in names if n.startswith(ANCHOR) and n.rsplit("_", 1)[0] in by_hash]
        if in_table:
            where, located = "", "table"
        elif anchors:
            name = anchors[0]
            where, located = f"{by_hash[name.rsplit('_', 1)[0]]}:{name.rsplit('_', 1)[1]}", "bookmark"
            last_anchor = where
        elif last_anchor and old == "" and any(status == "ins" and text.strip() for status, text, *_ in segments):
            where, located = last_anchor, "split paragraph"  # a paragraph the reviewer added after one of ours
        else:
            where, located = _match(old, blocks)
        found = _changes(segments, old, figures)
        for remark in found:
            remark.where, remark.located, remark.source, remark.old = where, located, path.name, old
            remark.context = caption if in_table else ""
        remarks += found
        for kind, comment_id, offset in marks:
            if kind == "start" and comment_id in comments:
                author, date, text = comments[comment_id]
                remark = Remark("comment", author, date, path.name, where=where, located=located, comment=text,
                                context=caption if in_table else "", old=old, start=offset, end=len(old))
                open_comments[comment_id] = (remark, id(paragraph))
                remarks.append(remark)
            elif kind == "end" and comment_id in open_comments:
                remark, opened_in = open_comments.pop(comment_id)
                if opened_in == id(paragraph):
                    remark.end = offset
    return remarks


def _comments(package: zipfile.ZipFile) -> dict[str, tuple[str, str, str]]:
    """Comment id → (author, date, text)."""
    if "word/comments.xml" not in package.namelist():
        return {}
    root = etree.fromstring(package.read("word/comments.xml"))
    found = {}
    for comment in root.iter(_q("comment")):
        text = "\n".join("".join(t.text or "" for t in p.iter(_q("t"))) for p in comment.iter(_q("p"))).strip()
        found[comment.get(_q("id"))] = (comment.get(_q("author"), ""), comment.get(_q("date"), ""), text)
    return found


def _figure_sources(package: zipfile.ZipFile) -> dict[str, str]:
    if "docProps/custom.xml" not in package.namelist():
        return {}
    root = etree.fromstring(package.read("docProps/custom.xml"))
    for prop in root:
        if prop.get("name") == FIGURES_PROPERTY:
            try:
                return dict(json.loads("".join(prop.itertext())))
            except ValueError:
                return {}
    return {}


def _segments(paragraph) -> tuple[list, list[str], list]:
    """The paragraph's text in order as (status, text, author, date, figure) with status normal/ins/del; the names
    of the bookmarks in it; comment ranges as (start|end, id, offset in the old text)."""
    segments, names, marks, figure_ids, offset = [], [], [], {}, 0
    figure = None
    for node in paragraph.iter():
        if node.tag == _q("bookmarkStart"):
            name = node.get(_q("name"), "")
            names.append(name)
            if name.startswith(FIGURE):
                figure_ids[node.get(_q("id"))] = name
                figure = name
        elif node.tag == _q("bookmarkEnd") and node.get(_q("id")) in figure_ids:
            figure = None
        elif node.tag in (_q("commentRangeStart"), _q("commentRangeEnd")):
            marks.append(("start" if node.tag == _q("commentRangeStart") else "end", node.get(_q("id")), offset))
        elif node.tag in (_q("t"), _q("delText"), _q("tab"), _q("br")):
            text = node.text or "" if node.tag in (_q("t"), _q("delText")) else ("\t" if node.tag == _q("tab") else "\n")
            if _figure_number(node, text):
                continue
            change = next((a for a in node.iterancestors() if a.tag in (_q("ins"), _q("del"))), None)
            status = "normal" if change is None else ("ins" if change.tag == _q("ins") else "del")
            author = change.get(_q("author"), "") if change is not None else ""
            date = change.get(_q("date"), "") if change is not None else ""
            segments.append((status, text, author, date, figure))
            if status != "ins":
                offset += len(text)
    return segments, names, marks


def _figure_number(node, text: str) -> bool:
    """A draft's figure number (a superscript of digits after a figure): not the reviewer's words."""
    run = node.getparent()
    align = run.find(f"{_q('rPr')}/{_q('vertAlign')}") if run is not None else None
    return text.isdigit() and align is not None and align.get(_q("val")) == "superscript"


def _changes(segments: list, old: str, figures: dict) -> list[Remark]:
    """Each run of consecutive insertions and deletions by one reviewer as one change, placed in the old text."""
    found, offset, current = [], 0, None
    for status, text, author, date, figure in segments:
        if status == "normal":
            current = None
            offset += len(text)
            continue
        if current is None or current.reviewer != author:
            current = Remark("change", author, date, "", start=offset, end=offset)
            found.append(current)
        if status == "del":
            current.deleted += text
            offset += len(text)
            current.end = offset
        else:
            current.inserted += text
        if figure and figures.get(figure, figure) not in current.figures:
            current.figures.append(figures.get(figure, f"{figure}（来源见征求意见稿附录）"))
    return found


def _blocks(narratives: dict[str, Path]) -> list[tuple[str, str]]:
    """(anchor, text) of every block of every narrative, for matching a paragraph that lost its bookmark."""
    found = []
    for where, path in narratives.items():
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        for number, line in enumerate(lines, 1):
            if line.strip() and (number == 1 or not lines[number - 2].strip()):
                found.append((f"{where}:{number}", _TAG.sub("", line)))
    return found


def _match(text: str, blocks: list[tuple[str, str]]) -> tuple[str, str]:
    if not text.strip() or not blocks:
        return "", "not from a narrative"
    scored = max(blocks, key=lambda block: difflib.SequenceMatcher(None, text, block[1]).ratio())
    if difflib.SequenceMatcher(None, text, scored[1]).ratio() < 0.6:
        return "", "not from a narrative"
    return scored[0], "text match"


def narratives_of(data_dir: Path, years: list[int]) -> dict[str, Path]:
    """``<year>/narrative/<name>.md`` → its file, for each year."""
    found = {}
    for year in years:
        folder = data_dir / str(year) / NARRATIVE_DIR
        for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
            found[f"{year}/{NARRATIVE_DIR}/{path.name}"] = path
    return found


# --- applying ---------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    remark: Remark
    applied: bool
    why: str = ""


def apply(remarks: list[Remark], data_dir: Path) -> list[Outcome]:
    """Write the accepted wording changes into the narrative files; what was applied and what not, and why."""
    outcomes: list[Outcome] = []
    changes = [r for r in remarks if r.kind == "change"]
    conflicted = _conflicts(changes)
    seen: set[tuple] = set()
    edits: dict[Path, list] = defaultdict(list)
    for remark in changes:
        key = (remark.where, remark.start, remark.end, remark.deleted, remark.inserted)
        if key in seen:  # the same change from two reviewers: once
            continue
        seen.add(key)
        if id(remark) in conflicted:
            outcomes.append(Outcome(remark, False, f"与其他审阅人的修订冲突 (conflicts with {conflicted[id(remark)]})"))
        elif remark.figures:
            outcomes.append(Outcome(remark, False, "；".join(  # (a figure made of several: each of its sources)
                disputed(each) for source in remark.figures for each in source.split("；"))))
        elif not remark.where:
            outcomes.append(Outcome(remark, False, "不在叙述文本中 (not in a narrative: a table, a caption or a title "
                                                   "comes from the registers and the config)"))
        else:
            edits[data_dir / remark.where.rsplit(":", 1)[0]].append(remark)
    for path, remarks_here in edits.items():
        text = path.read_text(encoding="utf-8-sig")
        for remark in sorted(remarks_here, key=lambda r: (-int(r.where.rsplit(":", 1)[1]), -r.start)):
            text, why = _apply_one(text, remark)
            outcomes.append(Outcome(remark, not why, why))
        here = {id(r) for r in remarks_here}
        if any(o.applied for o in outcomes if id(o.remark) in here):
            write_atomic(path, text)
    return outcomes


def disputed(source: str) -> str:
    """Where to check a figure a reviewer changed: its register, year and row (第5行) when it comes from a few rows,
    else the filter and how many rows it counted."""
    part = provenance.parse(source)
    if not part["register"] or not part["year"]:
        return f"数据有异议，请核对：{source} (figure disputed — check its source)"
    rows = part["row_numbers"]
    counted = "，".join(p for p in (part["filters"], part["aggregation"]) if p)
    zh = f"第{rows}行" if rows else f"（{counted + '，' if counted else ''}共{part['rows']}行）"
    en = f"row {rows.replace('、', ', ')}" if rows else f"the {part['rows']} rows counted"
    return (f"数据有异议，请核对登记表「{part['register']}」{part['year']}年{zh} "
            f"(figure disputed — check register {part['register']} {part['year']}, {en})")


def _conflicts(changes: list[Remark]) -> dict[int, str]:
    """Changes of the same sentence by different reviewers that do not agree: id → the other reviewer."""
    by_sentence: dict[tuple, list[Remark]] = defaultdict(list)
    for remark in changes:
        by_sentence[(remark.where, remark.sentence)].append(remark)
    found = {}
    for group in by_sentence.values():
        reviewers = {(r.source, r.reviewer) for r in group}
        versions = {(r.source, r.reviewer): tuple((x.start, x.end, x.deleted, x.inserted) for x in group
                                                  if (x.source, x.reviewer) == (r.source, r.reviewer)) for r in group}
        if len(reviewers) > 1 and len(set(versions.values())) > 1:
            for remark in group:
                others = sorted({f"{r.reviewer or '未署名'}（{r.source}）" for r in group if r is not remark
                                 and (r.source, r.reviewer) != (remark.source, remark.reviewer)})
                found[id(remark)] = "、".join(others)
    return found


def _apply_one(text: str, remark: Remark) -> tuple[str, str]:
    """``text`` with the change made on the narrative's own words at its line's block; (text, "") or (text, why not)."""
    line = int(remark.where.rsplit(":", 1)[1])
    lines = text.split("\n")
    begin = sum(len(x) + 1 for x in lines[:line - 1])
    end_line = next((i for i in range(line - 1, len(lines)) if not lines[i].strip()), len(lines))
    block_end = sum(len(x) + 1 for x in lines[:end_line])
    block = text[begin:block_end]
    tags = [m.span() for m in _TAG.finditer(block)]
    if not remark.old and remark.inserted.strip():  # a paragraph the reviewer added after this one
        at = block_end - 1 if block.endswith("\n") else block_end
        return text[:at] + "\n\n" + remark.inserted.strip() + text[at:], ""
    before, after = remark.old[:remark.start], remark.old[remark.end:]
    for context in (16, 8, 4, 2, 1, 0):
        lead, tail = before[-context:] if context else "", after[:context] if context else ""
        if not (lead or tail or remark.deleted):
            continue
        needle = lead + remark.deleted + tail
        hits = [m.start() for m in re.finditer(re.escape(needle), block)]
        hits = [h for h in hits if not any(s < h + len(needle) and h < e for s, e in tags)]
        if len(hits) == 1:
            at = begin + hits[0] + len(lead)
            return text[:at] + remark.inserted + text[at + len(remark.deleted):], ""
        if len(hits) > 1:
            continue
    if any(ch.isdigit() for ch in remark.deleted + remark.inserted):
        return text, "改动涉及数字，未在叙述原文中找到：可能是由数据生成的数字 (a figure, not the narrative's words: check its register)"
    return text, "未能在叙述原文中唯一定位 (not found once in the narrative's own words; a placeholder's output is never edited)"


# --- the report --------------------------------------------------------------------------------------------------

def report(remarks: list[Remark], outcomes: list[Outcome] | None = None) -> list[str]:
    """The remarks grouped by narrative file and line, in Chinese; with ``outcomes``, what was applied and what not."""
    lines: list[str] = []
    result = {id(o.remark): o for o in outcomes or []}
    groups: dict[str, list[Remark]] = defaultdict(list)
    for remark in remarks:
        groups[remark.where.rsplit(":", 1)[0] if remark.where else ""].append(remark)
    for file in sorted(groups, key=lambda f: (f == "", f)):
        lines.append(f"{file}" if file else "不在叙述文本中的批注和修订（表格、标题等）：")
        heading = None
        for remark in sorted(groups[file], key=lambda r: (int(r.where.rsplit(":", 1)[1]) if r.where else 0, r.start)):
            where = (f"  第{remark.where.rsplit(':', 1)[1]}行" if remark.where
                     else f"  {('表格「' + remark.context + '」') if remark.context else '正文'}")
            how = "" if remark.located == "bookmark" else f"（{_LOCATED.get(remark.located, remark.located)}）"
            if (where, remark.sentence) != heading:  # each line's sentence once, its remarks under it
                lines.append(f"{where}{how}：「{remark.sentence}」")
                heading = (where, remark.sentence)
            lines.append(f"    · {remark.said()}")
            for source in remark.figures:
                lines.append(f"      数据来源：{source}")
            outcome = result.get(id(remark))
            if outcome is not None:
                lines.append(f"      {'已写入' if outcome.applied else '未写入'}"
                             + (f"：{outcome.why}" if outcome.why else f" {shown(Path(file))}" if file else ""))
    return lines


_LOCATED = {"split paragraph": "审阅人拆分的段落", "text match": "书签已失，按文字匹配", "table": "表格",
            "not from a narrative": "非叙述文本"}
