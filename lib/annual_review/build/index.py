"""The index pages: a body's (every built year, its files, when) and a city's (every body × year, the shared
indicators, the 2019 rules' check), rendered from one template as tables of plain cells, every value escaped."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from ..core.files import write_atomic
from ..core.outputs import DATA_FILES, FORMAT_LABELS, FORMATS, INDEX, REPORT_FILE
from ..core.web import CONTENT_SECURITY_POLICY
from . import manifest


@dataclass(frozen=True)
class Cell:
    text: str = ""
    note: str = ""  # a second, smaller line (why a report failed)
    links: tuple = ()  # (label, href) pairs
    header: bool = False  # the row's heading
    kind: str = ""  # "num", "num total": a figure (right-aligned), a total (bold)


@dataclass(frozen=True)
class Table:
    heading: str
    columns: tuple
    rows: list
    kind: str = ""
    left_out: tuple = ()  # bodies a total leaves out, and why
    left_out_heading: str = field(default="合计不含以下单位 (the totals leave out):")
    image: tuple = ()  # (src, alt): a chart shown above the table (its figures, for those who cannot see it)


@functools.cache
def _template():
    from importlib import resources

    import jinja2

    source = resources.files("annual_review").joinpath("templates/index/index.html.j2").read_text(encoding="utf-8")
    return jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(source)


def index_page(title: str, tables: list[Table], *, intro: str = "", lang: str = "zh-CN", width: int = 48,
               nav: tuple = (), csp: str = CONTENT_SECURITY_POLICY, key: str = "") -> str:
    """A page of tables; ``nav``: (label, href) links above its title (a city site's other pages); ``key``: what the
    page was made from, in a digest (kept in its head, so that the same page is not made again)."""
    return _template().render(title=title, tables=tables, intro=intro, lang=lang, width=width, nav=nav, csp=csp,
                              key=key)


def report_links(folder: Path, record: manifest.BuildRecord, href: str) -> tuple:
    """(label, href) of each file of a year's last build, as its record lists them and as they are on disk."""
    written = record.outputs
    files = [(FORMAT_LABELS[fmt], name) for fmt, name in FORMATS.items()] + [(l, n) for n, l in DATA_FILES.items()]
    return tuple((label, f"{href}/{name}") for label, name in files if name in written and (folder / name).is_file())


def write_index(output_dir: Path, config) -> Path | None:
    """``<output_dir>/index.html``: every built year, linking the files its last build wrote, and when."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return None
    rows = []
    for folder in sorted((p for p in output_dir.iterdir() if p.is_dir() and p.name.isdigit()), reverse=True):
        record = manifest.BuildRecord.load(folder)
        if not (folder / REPORT_FILE).is_file() or REPORT_FILE not in record.outputs:
            continue
        title = config.title(int(folder.name)) + ("（征求意见稿）" if record.mode == "draft" else "")
        rows.append([Cell(folder.name), Cell(title), Cell(links=report_links(folder, record, folder.name)),
                     Cell(built_at(record))])
    if not rows:
        return None
    table = Table("", ("年度", "报告", "文件", "生成时间"), rows)
    page, key = output_dir / INDEX, manifest.digest(config.index_title(), config.language, rows,
                                                     manifest.library_fingerprint())
    try:
        if f'<meta name="annual-review-index" content="{key}">' in page.read_text(encoding="utf-8"):
            return page  # made from the same years, records and config (a build with nothing to do)
    except (OSError, UnicodeDecodeError):
        pass
    return write_atomic(page, index_page(config.index_title(), [table], lang=config.language, key=key))


def built_at(record: manifest.BuildRecord) -> str:
    """When a year's last build ran, to the minute, as the index shows it."""
    return record.built_at[:16].replace("T", " ")
