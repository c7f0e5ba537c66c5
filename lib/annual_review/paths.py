"""Where a year's data lives: light helpers that import nothing heavy, for the command line's quick paths."""

from __future__ import annotations

import re
from pathlib import Path

from .exceptions import DataError
from .sources import WORKBOOK, shown  # noqa: F401 - shown: public here too

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
