"""Starting a new year's folder from the last one: ``annual-review new-year Y``.

Year Y gets last year's narrative as a starting draft (each paragraph recorded, so a final
build can tell the ones no one has touched since), every register emptied to its header (in
the same form, CSV or workbook, that last year used), and a follow-up list of last year's
next-step measures with a status for each to fill in.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from ..registers.reading import workbook_path, year_dir, year_workbook
from ..core.exceptions import DataError
from ..notebook.finished import CARRIED, record_carried
from ..core.paths import NARRATIVE_DIR, narratives, read_narrative
from ..notebook.narrative import POINT, narrative_path
from ..registers.schemas import declarations
from ..core.files import write_atomic
from ..registers.workbook import write_workbook

FOLLOW_UP = "follow_up"  # the table that carries last year's plans forward
FOLLOW_UP_NARRATIVE = "follow-up"
# A starting draft: the counts come from the follow-up list, the words are the staff's to change.
FOLLOW_UP_DRAFT = (
    "{{ year - 1 }}年度报告确定的下一阶段工作措施共{{ measures }}项，其中已完成{{ by_status.get('已完成', 0) }}项，"
    "正在推进{{ by_status.get('推进中', 0) }}项，尚未启动{{ by_status.get('未启动', 0) }}项。\n"
)
_HEADING = re.compile(r"^ {0,3}#\s+(?P<text>.+?)\s*#*\s*$")


def plan_items(markdown: str) -> list[str]:
    """Last year's next-step measures: the narrative's top headings, or its points if it has none."""
    lines = markdown.splitlines()
    items = [m["text"] for m in map(_HEADING.match, lines) if m]
    return items or [m["text"] for m in map(POINT.match, lines) if m and m["text"]]


PROVENANCE_STUB = ("【待填写：{year}年各登记表的数据来源（例如：取自本单位登记台账，截至{next_year}年1月31日；"
                   "或：已公开发布的数字）】\n")


def plans_narrative(config) -> str | None:
    """The narrative that lists a year's plans: that of the section which ``covers: plans`` in the config."""
    for section in config.all_sections() if config is not None else []:
        if "plans" in section.covers and section.notebook is not None:
            name = section.parameters.get("section")
            return str(name) if name else section.id
    return None


def new_year(data_dir: str | Path, year: int, *, plans: str | None = None, follow_up: str = FOLLOW_UP,
             config=None, notes: list[str] | None = None) -> list[Path]:
    """Create ``<data_dir>/<year>/`` from ``year - 1``; return the files written.

    ``plans`` names last year's narrative of next steps (default: the config's section that
    ``covers: plans``, else ``next-steps``); each of its top headings, or else its points,
    becomes an item of the ``follow_up`` table to fill in. What could not be carried
    forward is said in ``notes``.
    """
    notes = notes if notes is not None else []
    data_dir = Path(data_dir)
    previous, target = year_dir(data_dir, year - 1), year_dir(data_dir, year)
    if not previous.is_dir():
        raise DataError(f"{previous}: no data for {year - 1} to start {year} from")
    if target.exists() and any(target.iterdir()):
        raise DataError(f"{target}: already exists and is not empty; nothing was changed")
    specs = declarations(data_dir).tables
    plans = plans or plans_narrative(config) or "next-steps"
    written: list[Path] = []
    carried: dict[str, str] = {}
    for draft in narratives(data_dir, year - 1)[0]:  # (a link to a file elsewhere is not copied)
        if draft.stem != FOLLOW_UP_NARRATIVE:
            written.append(write_atomic(target / NARRATIVE_DIR / draft.name, draft.read_bytes()))
            carried[draft.name] = read_narrative(draft)
    if carried:  # what was copied, paragraph by paragraph: a final build refuses what is still word for word the same
        record = record_carried(target / NARRATIVE_DIR, year - 1, carried)
        written.append(write_atomic(target / NARRATIVE_DIR / CARRIED, json.dumps(record, ensure_ascii=False, indent=1)))

    plans_file = narrative_path(data_dir, year - 1, plans)
    items = plan_items(plans_file.read_text(encoding="utf-8")) if plans_file.is_file() else []
    if not plans_file.is_file():
        notes.append(f"{plans_file}: no such narrative, so no plans were carried forward (--plans names another)")
    elif not items:
        notes.append(f"{plans_file}: no plan items found (write each as a `# ` heading or a `1. ` point), "
                     "so the follow-up list is empty")
    if year_workbook(data_dir, year - 1) is not None:
        written.append(write_workbook(workbook_path(data_dir, year), specs, year))
    else:
        for spec in specs.values():
            if spec.name == follow_up:
                continue
            written.append(write_atomic(target / spec.file, _csv([[c.name for c in spec.columns]])))
    if items and follow_up not in specs:
        notes.append(f"{data_dir / 'tables.yml'}: declares no table {follow_up!r}, so the {len(items)} plan item(s) were "
                     "not carried forward (declare it, or name another with --follow-up)")
    elif items:
        spec = specs[follow_up]
        rows = [[c.name for c in spec.columns]] + [[item if c.name == "item" else "" for c in spec.columns] for item in items]
        written.append(write_atomic(target / spec.file, _csv(rows)))
        draft = narrative_path(data_dir, year, FOLLOW_UP_NARRATIVE)
        if not draft.exists():
            written.append(write_atomic(draft, FOLLOW_UP_DRAFT))
    provenance = target / "provenance.md"
    if not provenance.exists():
        written.append(write_atomic(provenance, PROVENANCE_STUB.format(year=year, next_year=year + 1)))
    return written


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
