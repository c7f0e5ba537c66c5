"""Starting a new year's folder from the last one: ``annual-review new-year Y``.

Year Y gets last year's narrative as a starting draft, every register emptied to
its header (in the same form, CSV or workbook, that last year used), and a
follow-up list of last year's next-step measures with a status for each to fill in.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .data import workbook_path, year_dir, year_workbook
from .exceptions import DataError
from .narrative import POINT, narrative_path
from .schemas import declarations
from .store import write_atomic
from .workbook import write_workbook

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


def new_year(data_dir: str | Path, year: int, *, plans_section: str = "next-steps") -> list[Path]:
    """Create ``<data_dir>/<year>/`` from ``year - 1``; return the files written."""
    data_dir = Path(data_dir)
    previous, target = year_dir(data_dir, year - 1), year_dir(data_dir, year)
    if not previous.is_dir():
        raise DataError(f"{previous}: no data for {year - 1} to start {year} from")
    if target.exists() and any(target.iterdir()):
        raise DataError(f"{target}: already exists and is not empty; nothing was changed")
    specs = declarations(data_dir).tables
    written: list[Path] = []
    for draft in sorted((previous / "narrative").glob("*.md")):
        written.append(write_atomic(target / "narrative" / draft.name, draft.read_bytes()))

    plans_file = narrative_path(data_dir, year - 1, plans_section)
    items = plan_items(plans_file.read_text(encoding="utf-8")) if plans_file.is_file() else []
    if year_workbook(data_dir, year - 1) is not None:
        written.append(write_workbook(workbook_path(data_dir, year), specs, year))
    else:
        for spec in specs.values():
            if spec.name == FOLLOW_UP:
                continue
            written.append(write_atomic(target / spec.file, _csv([[c.name for c in spec.columns]])))
    if FOLLOW_UP in specs and items:
        spec = specs[FOLLOW_UP]
        rows = [[c.name for c in spec.columns]] + [[item if c.name == "item" else "" for c in spec.columns] for item in items]
        written.append(write_atomic(target / spec.file, _csv(rows)))
        draft = narrative_path(data_dir, year, FOLLOW_UP_NARRATIVE)
        if not draft.exists():
            written.append(write_atomic(draft, FOLLOW_UP_DRAFT))
    return written


def _csv(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()
