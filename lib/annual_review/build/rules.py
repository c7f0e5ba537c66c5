"""The 2019 rules, checked: every required item covered, none empty, and the publication deadline.

《法治政府建设与责任落实督察工作规定》(2019) 第二十四条 asks each body's annual report to cover
five things (:data:`annual_review.core.config.REQUIRED_ITEMS`) and to be published before 1 April
of the following year. Sections say which item they report on (``covers:`` in the
config); a three-part outline such as the 2020 seed's maps its parts onto the items and
is told which it lacks. Each finding is a warning: the body decides; nothing is refused.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..core.config import REQUIRED_ITEMS, ReportConfig
from ..notebook.finished import says_nothing
from ..core.paths import contained, narrative_dir, read_narrative

OPTIONAL_ITEMS = {"other"}  # 其他需要报告的情况: only when there is something else to report


def deadline(year: int) -> dt.date:
    """The last day the report for ``year`` may be published: 31 March of the following year."""
    return dt.date(year + 1, 3, 31)


def gaps(config: ReportConfig, data_dir: Path, year: int, tables_with_rows: set[str] | None = None) -> list[tuple[str, str]]:
    """The required items ``year``'s report lacks: ("uncovered" or "empty", item); ("undeclared", "") if no part says."""
    sections = config.all_sections()
    if not any(s.covers for s in sections):
        return [("undeclared", "")]
    outline = config.for_year(tables_with_rows) if tables_with_rows is not None else config
    kept = {s.id for s in outline.all_sections()}
    found = []
    for item in REQUIRED_ITEMS:
        covering = [s for s in sections if item in s.covers]
        if not covering:
            if item not in OPTIONAL_ITEMS:
                found.append(("uncovered", item))
        elif not [s for s in covering if s.id in kept and _has_content(s, data_dir, year)]:
            found.append(("empty", item))
    return found


def check(config: ReportConfig, data_dir: Path, year: int, *, tables_with_rows: set[str] | None = None,
          today: dt.date | None = None) -> list[str]:
    """Warnings (and one reminder line) for ``year``'s report under the 2019 rules."""
    today = today or dt.date.today()
    lines = []
    for kind, item in gaps(config, data_dir, year, tables_with_rows):
        wording = REQUIRED_ITEMS.get(item, "")
        if kind == "undeclared":
            lines.append(f"{config.path}: no section says which of the 2019 rules' items it covers (`covers:`); "
                         "the five required items were not checked")
        elif kind == "uncovered":
            lines.append(f"{config.path}: no section covers the required item “{wording}” ({item})")
        else:
            names = "、".join(f"'{config.heading(s, year) or s.id}'" for s in config.all_sections() if item in s.covers)
            lines.append(f"{year}: the required item “{wording}” ({item}) is empty: {names} "
                         "shows nothing this year (no narrative, or left out)")
    due = deadline(year)
    left = (due - today).days
    when = (f"{left} day(s) left" if left >= 0 else f"{-left} day(s) ago")
    lines.append(f"reminder: the {year} report must be published before 1 April {year + 1} (by {due}; {when})")
    return lines


def _has_content(section, data_dir: Path, year: int) -> bool:
    """Whether a section would show something: a notebook that is not only a narrative, or a narrative with text."""
    name = section.parameters.get("section") if isinstance(section.parameters.get("section"), str) else None
    if section.notebook is None:
        return any(True for _ in section.children)
    if name is None:
        return True  # a notebook of its own: its tables and charts are its content
    folder = narrative_dir(data_dir, year)
    narrative = folder / f"{name}.md"
    return narrative.is_file() and contained(narrative, folder) and not says_nothing(read_narrative(narrative))
