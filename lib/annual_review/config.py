"""The report's outline and settings, read from a config file (``report.yml``).

The outline is configuration: which sections, in what order, with which headings
and notebooks. Another body's report is another config, not another library.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from .exceptions import ConfigError
from .numbers import cn_numeral

DEFAULT_CONFIG = "report.yml"
DEFAULT_DATA_DIR = "data"
DEFAULT_OUTPUT_DIR = "outputs"
# Heading numbers by level, as in Chinese official documents: 一、 (一) 1. (1)
DEFAULT_NUMBERING = ("{cn}、", "（{cn}）", "{n}.", "（{n}）")
_SECTION_KEYS = {"id", "heading", "notebook", "sections", "parameters", "requires", "required", "numbered"}
_TOP_KEYS = {"body", "title", "language", "notebooks", "numbering", "sections", "allow_personal_data", "document"}
# The printed page (PDF and the browser's print), after GB/T 9704 for official documents.
DEFAULT_DOCUMENT = {
    "page": "A4",
    "margins": {"top": "37mm", "bottom": "35mm", "left": "28mm", "right": "26mm"},
    "title_font": "方正小标宋简体",
    "title_size": "22pt",  # 二号
    "heading_fonts": ["黑体", "楷体"],  # level 1, level 2; deeper levels use the body font
    "body_font": "仿宋_GB2312",
    "body_size": "16pt",  # 三号
    "line_height": "28pt",
}


@dataclass(frozen=True)
class Section:
    """One part of the report: a heading, a notebook, or both; possibly with sub-sections."""

    id: str
    heading: str | None
    notebook: Path | None
    level: int  # 1 for 一、, 2 for (一) …; for an unheaded part, the level of the heading it sits under
    parameters: Mapping[str, object]
    children: tuple["Section", ...] = ()
    requires: str | None = None  # a table that must have rows in the year for this section to appear
    executed_name: str = ""  # file name of its executed notebook under outputs/<year>/sections/
    required: bool = False  # the report may not be published without this section's content
    numbered: bool = True  # False: the heading stands without a number and the count skips it (an overview)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class ReportConfig:
    path: Path
    body: str
    title_pattern: str
    language: str
    numbering: tuple[str, ...]
    notebooks_dir: Path
    sections: tuple[Section, ...]
    allow_personal_data: bool = False  # publish ID numbers, mobile numbers, e-mails found in the text
    # The printed page: DEFAULT_DOCUMENT with the config's changes.
    document: Mapping[str, object] = field(default_factory=lambda: dict(DEFAULT_DOCUMENT))

    def title(self, year: int) -> str:
        return self.title_pattern.format(body=self.body, year=year)

    def all_sections(self) -> list[Section]:
        return [s for top in self.sections for s in top.walk()]

    def executable_sections(self) -> list[Section]:
        """Sections with a notebook, in report order."""
        return [s for s in self.all_sections() if s.notebook is not None]

    def for_year(self, tables_with_rows: set[str]) -> "ReportConfig":
        """The outline for a year: sections that ``require`` a table the year has no rows in are left out."""

        def keep(sections: tuple[Section, ...]) -> tuple[Section, ...]:
            return tuple(
                replace(s, children=keep(s.children))
                for s in sections
                if s.requires is None or s.requires in tables_with_rows
            )

        return replace(self, sections=keep(self.sections))


def heading_number(numbering: tuple[str, ...], level: int, n: int) -> str:
    """The number written before the ``n``-th heading at ``level``: (level 1, 2) → "二、"."""
    if level < 1:
        return ""
    style = numbering[min(level, len(numbering)) - 1]
    return style.format(cn=cn_numeral(n), n=n)


def _name_outputs(sections: tuple[Section, ...]) -> tuple[Section, ...]:
    """Each section's executed notebook is named after its notebook, or notebook and section when shared."""
    uses: dict[Path, int] = {}
    for top in sections:
        for s in top.walk():
            if s.notebook:
                uses[s.notebook] = uses.get(s.notebook, 0) + 1

    def named(items: tuple[Section, ...]) -> tuple[Section, ...]:
        out = []
        for s in items:
            name = ""
            if s.notebook:
                name = s.notebook.name if uses[s.notebook] == 1 else f"{s.notebook.stem}.{s.id}.ipynb"
            out.append(replace(s, executed_name=name, children=named(s.children)))
        return tuple(out)

    return named(sections)


def load_config(path: str | Path = DEFAULT_CONFIG) -> ReportConfig:
    """Read and check a report config; raise ConfigError naming every problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: the report config does not exist (pass --config to name another)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping with 'body', 'title' and 'sections'")
    for key in sorted(set(raw) - _TOP_KEYS):
        problems.append(f"{path}: unknown key '{key}' (known: {sorted(_TOP_KEYS)})")
    for key in ("body", "title", "sections"):
        if not raw.get(key):
            problems.append(f"{path}: '{key}' is required")
    numbering = tuple(raw.get("numbering") or DEFAULT_NUMBERING)
    notebooks_dir = (path.parent / raw.get("notebooks", "notebooks")).resolve()
    seen: set[str] = set()

    def parse(items, level: int, where: str) -> tuple[Section, ...]:
        if not isinstance(items, list):
            problems.append(f"{path}: {where}: 'sections' must be a list")
            return ()
        parsed = []
        for i, item in enumerate(items, 1):
            here = f"{where} item {i}"
            if not isinstance(item, Mapping):
                problems.append(f"{path}: {here}: expected a mapping with 'heading' and/or 'notebook'")
                continue
            for key in sorted(set(item) - _SECTION_KEYS):
                problems.append(f"{path}: {here}: unknown key '{key}' (known: {sorted(_SECTION_KEYS)})")
            heading, notebook = item.get("heading"), item.get("notebook")
            if not heading and not notebook:
                problems.append(f"{path}: {here}: needs a 'heading', a 'notebook', or both")
            nb_path = None
            if notebook:
                nb_path = notebooks_dir / notebook
                if not nb_path.is_file():
                    problems.append(f"{path}: {here}: notebook '{notebook}' not found in {notebooks_dir}")
            section_id = str(item.get("id") or (Path(notebook).stem.split("-", 1)[-1] if notebook else f"part-{level}-{i}"))
            if section_id in seen:
                problems.append(f"{path}: {here}: section id '{section_id}' is used twice")
            seen.add(section_id)
            # An unheaded part sits inside its parent's heading: its content is one level deeper than that.
            own_level = level if heading else level - 1
            children = parse(item["sections"], level + 1, f"{here} >") if "sections" in item else ()
            parsed.append(
                Section(
                    id=section_id,
                    heading=str(heading) if heading else None,
                    notebook=nb_path,
                    level=own_level,
                    parameters=dict(item.get("parameters") or {}),
                    requires=str(item["requires"]) if item.get("requires") else None,
                    required=bool(item.get("required", False)),
                    numbered=bool(item.get("numbered", True)),
                    children=children,
                )
            )
        return tuple(parsed)

    sections = parse(raw.get("sections") or [], 1, "sections")
    sections = _name_outputs(sections)
    if problems:
        raise ConfigError("\n".join(problems))
    return ReportConfig(
        path=path.resolve(),
        body=str(raw["body"]),
        title_pattern=str(raw["title"]),
        language=str(raw.get("language", "zh-CN")),
        numbering=numbering,
        notebooks_dir=notebooks_dir,
        sections=sections,
        allow_personal_data=bool(raw.get("allow_personal_data", False)),
        document={**DEFAULT_DOCUMENT, **(raw.get("document") or {})},
    )
