"""Where a year's data lives: light helpers that import nothing heavy, for the command line's quick paths."""

from __future__ import annotations

import re
from pathlib import Path

from .exceptions import DataError

TABLES_FILE = "tables.yml"  # data/tables.yml: the registers a body keeps, declared once for every year
WORKBOOK_STEM = "tables"  # a year's workbook: tables.<one of WORKBOOK_FORMATS>, one sheet per table
WORKBOOK_FORMATS = (".xlsx", ".xlsm", ".xls", ".ods", ".et")
WORKBOOK = "tables.xlsx"  # the form `annual-review template` writes


def shown(file: str | Path) -> str:
    """A file as messages name it: relative to the working folder (the project) when inside it."""
    try:
        return str(Path(file).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(file)


_YEAR = re.compile(r"^\d{4}$")


def available_years(data_dir: str | Path) -> list[int]:
    """The years with a folder in ``data_dir``, oldest first."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f"{root}: the data folder does not exist")
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and _YEAR.match(p.name))


def resolve_year(data_dir: str | Path, year: int | None = None) -> int:
    """``year`` if ``data_dir`` has a folder for it; the latest year there when ``year`` is 0 or None."""
    years = available_years(data_dir)
    if not years:
        raise DataError(f"{data_dir}: no year folders (such as 2020/) were found")
    if not year:
        return years[-1]
    if int(year) not in years:
        raise DataError(f"{Path(data_dir) / str(year)}: no data for {year}; years available: {years}")
    return int(year)


def year_dir(data_dir: str | Path, year: int) -> Path:
    return Path(data_dir) / str(year)


def workbook_path(data_dir: str | Path, year: int) -> Path:
    return year_dir(data_dir, year) / WORKBOOK


def contained(path: str | Path, folder: str | Path) -> bool:
    """Whether ``path``, symlinks resolved, is inside ``folder`` (so a link cannot publish a file from elsewhere)."""
    return Path(path).resolve().is_relative_to(Path(folder).resolve())


OUTSIDE = ("是指向该文件夹之外的链接，未读取 (a link to a file outside {folder}; it was not read: "
           "copy the file into the folder instead)")


def stamp(path: Path) -> tuple:
    """What tells whether a file changed since it was last read: its path, time and size (just its path if absent)."""
    try:
        stat = Path(path).stat()
    except OSError:
        return (str(path),)
    return (str(path), stat.st_mtime_ns, stat.st_size)


NARRATIVE_DIR = "narrative"  # data/<year>/narrative/*.md: each section's text
MAX_NARRATIVE_BYTES = 200_000  # a long section's text is ~5,000 characters; a file far past this is no narrative


def narrative_dir(data_dir: str | Path, year: int) -> Path:
    return year_dir(data_dir, year) / NARRATIVE_DIR


def narratives(data_dir: str | Path, year: int) -> tuple[list[Path], list[Path]]:
    """The year's narrative files, and those that are links to files outside its folder (never read)."""
    folder = narrative_dir(data_dir, year)
    found = sorted(folder.glob("*.md")) if folder.is_dir() else []
    root = folder.resolve()
    inside = [p for p in found if p.resolve().is_relative_to(root)]  # (each resolved once)
    return inside, [p for p in found if p not in inside]


def read_narrative(path: Path) -> str:
    """A narrative's text; DataError, in plain words, for one too large or not UTF-8."""
    from .exceptions import DataError

    size = path.stat().st_size
    if size > MAX_NARRATIVE_BYTES:
        raise DataError(f"{shown(path)}: {size:,} bytes, more than a narrative holds ({MAX_NARRATIVE_BYTES:,} at most); "
                        "split it, or check it is the file you meant (叙述文本过长)")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DataError(f"{shown(path)}, line {line}: not UTF-8 text; save it as UTF-8 (编码不是 UTF-8)") from None
