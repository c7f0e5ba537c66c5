"""The report's outline and settings, read from a config file (``report.yml``).

The outline is configuration: which sections, in what order, with which headings
and notebooks. Another body's report is another config, not another library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path


from . import yamlfile
from .exceptions import ConfigError
from .chinese import cn_numeral
from .parameters import check_parameters, literal
from .web import WEB_ADDRESS

DEFAULT_CONFIG = "report.yml"
DEFAULT_DATA_DIR = "data"
DEFAULT_OUTPUT_DIR = "outputs"
# Heading numbers by level, as in Chinese official documents: 一、 (一) 1. (1)
DEFAULT_NUMBERING = ("{cn}、", "（{cn}）", "{n}.", "（{n}）")
_SECTION_KEYS = {"id", "heading", "notebook", "sections", "parameters", "requires", "required", "numbered", "timeout",
                 "covers"}
_TOP_KEYS = {"body", "title", "language", "notebooks", "numbering", "sections", "allow_personal_data", "document", "timeout",
             "params", "index_title", "memory", "dataset_metadata"}
# The five things the 2019 rules (《法治政府建设与责任落实督察工作规定》第二十四条) ask a report to cover.
REQUIRED_ITEMS = {
    "measures": "推进法治政府建设的主要举措和成效",
    "shortcomings": "存在的不足和原因",
    "leaders_duty": "党政主要负责人履行推进法治建设第一责任人职责情况",
    "plans": "下一年度推进法治政府建设的主要安排",
    "other": "其他需要报告的情况",
}
# What a title or heading may name: {year} 2023, {prev_year} 2022, {next_year} 2024, {body} the body's name.
TEXT_FIELDS = ("year", "prev_year", "next_year", "body")
DEFAULT_TIMEOUT = 600  # seconds a section may run (config `timeout:`, `build --timeout`)
DEFAULT_MEMORY = "4GB"  # the memory each kernel may take (config `memory:`); a section past it fails, named
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(MB|GB)\s*$", re.I)
MIN_MEMORY = 768 * 1024**2  # a warm kernel holds about 320 MB before any section runs
MEMORY_ENV = "ANNUAL_REVIEW_MEMORY"  # the build tells its kernels their memory limit, in bytes


def memory_bytes(text: str) -> int | None:
    """A memory size from the config (512MB, 4GB) in bytes; None if it is not one."""
    match = _MEMORY.match(str(text))
    if not match:
        return None
    return int(float(match.group(1)) * (1024**3 if match.group(2).upper() == "GB" else 1024**2))
MAX_TIMEOUT = 24 * 3600
# The printed page (PDF and the browser's print), after GB/T 9704 for official documents.
DEFAULT_DOCUMENT = {
    "page": "A4",
    "margins": {"top": "37mm", "bottom": "35mm", "left": "28mm", "right": "26mm"},
    # Fonts by role: the ones a bureau's own machines have, best first (see annual_review.core.fonts for the
    # open-licence faces that follow them); each a name or a list of names.
    "title_font": ["方正小标宋简体", "FZXiaoBiaoSong-B05S"],
    "title_size": "22pt",  # 二号
    "heading_fonts": ["黑体", "楷体_GB2312"],  # level 1, level 2; deeper levels use the body font
    "body_font": ["仿宋_GB2312", "仿宋", "FangSong"],
    "figure_font": ["黑体", "SimHei"],  # tables and charts
    "body_size": "16pt",  # 三号
    "line_height": "28pt",  # on screen; in print and Word the grid's line (the text block's height / lines_per_page)
    "chars_per_line": 28,  # GB/T 9704's grid: 28 characters a line,
    "lines_per_page": 22,  # 22 lines a page (null: no grid; the body size and line_height instead)
    "money": "元",  # how amounts of money are written in tables, comparisons and charts: 元 (697,530) or 万元 (69.75)
}
MONEY = ("元", "万元")
# Config values that end up in the page's CSS must be what they claim to be, nothing more.
_FONT = re.compile(r"^[\w .+\-]{1,64}$")  # letters (Chinese included), digits, space, _ . + -
_LENGTH = re.compile(r"^\d{1,3}(?:\.\d{1,2})?(?:pt|px|mm|cm|in|em|rem)$")
_LINE_HEIGHT = re.compile(r"^(?:\d{1,3}(?:\.\d{1,2})?(?:pt|px|mm|cm|in|em|rem)?)$")
_PAGE = re.compile(r"^(?:A3|A4|A5|B4|B5|letter|legal)(?: (?:portrait|landscape))?$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
# An address something would be fetched from: refused in config and narratives (the report fetches nothing).
REMOTE = re.compile(rf"{WEB_ADDRESS.pattern}|(?i:\burl\s*\()")  # and a stylesheet's url(…)


def check_document(document: Mapping, where: str) -> list[str]:
    """Problems with the ``document:`` settings: each value must be a font name, a length or a page size."""
    problems = []

    def check(key: str, value, pattern: re.Pattern, what: str) -> None:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or not pattern.match(str(value)):
            problems.append(f"{where}: document.{key} = {str(value)[:60]!r} is not {what}")

    for key in ("title_font", "body_font", "figure_font"):
        value = document.get(key)
        for i, font in enumerate(value if isinstance(value, list) and value else [value]):
            check(key if not isinstance(value, list) else f"{key}[{i + 1}]", font, _FONT,
                  "a font name (letters, digits, spaces, _ . + -)")
    fonts = document.get("heading_fonts")
    if not isinstance(fonts, list) or not fonts:
        problems.append(f"{where}: document.heading_fonts must be a list of font names")
    else:
        for i, font in enumerate(fonts, 1):
            check(f"heading_fonts[{i}]", font, _FONT, "a font name (letters, digits, spaces, _ . + -)")
    for key in ("title_size", "body_size"):
        check(key, document.get(key), _LENGTH, "a size such as 16pt")
    check("line_height", document.get("line_height"), _LINE_HEIGHT, "a line height such as 28pt")
    check("page", document.get("page"), _PAGE, "a page size such as A4 (A3, A4, A5, B4, B5, letter, legal)")
    for key, low, high in (("chars_per_line", 10, 60), ("lines_per_page", 10, 60)):
        value = document.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high):
            problems.append(f"{where}: document.{key} = {str(value)[:20]!r} is not a whole number from {low} to {high} "
                            "(or null for no grid)")
    if document.get("money") not in MONEY:
        problems.append(f"{where}: document.money = {str(document.get('money'))[:20]!r}: write amounts in 元 "
                        f"(697,530) or 万元 (69.75); choose one of {list(MONEY)}")
    margins = document.get("margins")
    if not isinstance(margins, Mapping) or set(margins) != {"top", "bottom", "left", "right"}:
        problems.append(f"{where}: document.margins must give top, bottom, left and right")
    else:
        for side, value in margins.items():
            check(f"margins.{side}", value, _LENGTH, "a length such as 28mm")
    return problems


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
    timeout: float | None = None  # seconds it may run; None: the config's
    covers: tuple[str, ...] = ()  # which of the 2019 rules' required items (REQUIRED_ITEMS) it reports on

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
    dataset_metadata: bool = False  # the HTML's head describes figures.csv/json as a schema.org Dataset (JSON-LD)
    # The printed page: DEFAULT_DOCUMENT with the config's changes.
    document: Mapping[str, object] = field(default_factory=lambda: dict(DEFAULT_DOCUMENT))
    timeout: float = DEFAULT_TIMEOUT  # seconds each section may run
    memory: str = DEFAULT_MEMORY  # what each kernel may take
    texts: tuple = ()  # (line, text) of every string in the config, for checks of its wording
    params: Mapping[str, object] = field(default_factory=dict)  # passed to every notebook and narrative
    index_pattern: str | None = None  # the heading of the page of every year's report; else the title without the year

    def text(self, pattern: str, year: int) -> str:
        """A title, heading or caption for ``year``: {year}, {prev_year}, {next_year} and {body} filled in."""
        return pattern.format(year=year, prev_year=year - 1, next_year=year + 1, body=self.body)

    def title(self, year: int) -> str:
        return self.text(self.title_pattern, year)

    def heading(self, section: Section, year: int) -> str | None:
        return self.text(section.heading, year) if section.heading else None

    def index_title(self) -> str:
        """The heading of the page listing every year's report: ``index_title``, else the title with its year left out."""
        if self.index_pattern:
            return self.index_pattern.format(body=self.body)
        pattern = re.sub(r"\{(?:year|prev_year|next_year)\}(?:年度|年)?", "", self.title_pattern)
        return pattern.format(body=self.body)

    def context(self, year: int) -> dict:
        """What every narrative may name besides its section's figures."""
        return {"year": year, "prev_year": year - 1, "next_year": year + 1, "body": self.body, "params": dict(self.params)}

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


SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")  # a section's id: safe in a link, an HTML id and a file name


def slug(text: str) -> str:
    """A section id made from a name (leaders_duty → leaders-duty; 措施 → ""): lower-case letters, digits and hyphens."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]", "-", text.lower())).strip("-")[:64].strip("-")


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


def load_config(path: str | Path = DEFAULT_CONFIG, trusted: tuple = ()) -> ReportConfig:
    """Read and check a report config; raise ConfigError naming every problem.

    Its notebooks folder must be inside the project (the config's folder) or one of the ``trusted`` folders the
    person building names (``--trust-folder``): a config never runs notebooks from elsewhere."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: the report config does not exist (pass --config to name another)")
    raw, tree = yamlfile.read(path, ConfigError)
    raw = raw or {}
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a mapping with 'body', 'title' and 'sections'")
    for line, text in yamlfile.strings(tree):
        if REMOTE.search(text):
            problems.append(f"{path}, line {line}: {text[:80]!r} holds a web or file address; the report fetches "
                            "nothing and links nowhere from its config (写入了网址，报告不从网络取任何内容)")
    for key in sorted(set(raw) - _TOP_KEYS):
        problems.append(f"{path}: unknown key '{key}' (known: {sorted(_TOP_KEYS)})")
    for key in ("body", "title", "sections"):
        if not raw.get(key):
            problems.append(f"{path}: '{key}' is required")
    numbering = tuple(str(n) for n in (raw.get("numbering") or DEFAULT_NUMBERING))
    notebooks_dir = (path.parent / str(raw.get("notebooks", "notebooks"))).resolve()
    project = path.parent.resolve()
    trusted_dirs = [Path(t).resolve() for t in trusted]
    if not any(notebooks_dir.is_relative_to(root) for root in [project, *trusted_dirs]):
        problems.append(f"{path}: notebooks: {str(raw.get('notebooks'))[:80]!r} is outside the project ({project}); "
                        "keep the notebooks in the project's folder, or name their folder with --trust-folder")
    key_lines: dict[str, int] = {}
    for line, text in yamlfile.strings(tree):
        key_lines.setdefault(text, line)
    seen: set[str] = set()

    def seconds(value, where: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT:
            problems.append(f"{path}: {where}: 'timeout' must be a number of seconds from 1 to {MAX_TIMEOUT}, not {value!r}")
            return None
        return float(value)

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
                nb_path = _notebook_path(notebooks_dir, str(notebook), f"{path}: {here}", problems)
            if heading:
                _check_fields(str(heading), f"{path}: {here}: heading", problems)
            covers = item.get("covers") or ()
            covers = (covers,) if isinstance(covers, str) else tuple(covers) if isinstance(covers, list) else covers
            unknown = [c for c in covers if c not in REQUIRED_ITEMS]
            if unknown or not isinstance(covers, tuple):
                problems.append(f"{path}: {here}: covers {unknown or covers!r}: each must be one of {list(REQUIRED_ITEMS)}")
                covers = ()
            if item.get("parameters") is not None and not isinstance(item.get("parameters"), Mapping):
                problems.append(f"{path}: {here}: 'parameters' must map names to values")
            elif item.get("parameters"):
                problems.extend(check_parameters(item["parameters"], nb_path, path, here, key_lines.get))
            named = (item.get("parameters") or {}).get("section") if isinstance(item.get("parameters"), Mapping) else None
            # A section is named by its id, else by the narrative it shows (sections sharing a notebook), else its notebook.
            explicit = item.get("id")
            if explicit is not None and not (isinstance(explicit, str) and SLUG.fullmatch(explicit)):
                at = f"{path}, line {key_lines.get(explicit)}" if isinstance(explicit, str) and key_lines.get(explicit) else path
                problems.append(f"{at}: {here}: id {str(explicit)[:40]!r} must be lower-case letters, digits and hyphens "
                                "(such as party-leadership): it names the part in links and file names")
            derived = named if isinstance(named, str) and named else (Path(notebook).stem.split("-", 1)[-1] if notebook else "")
            section_id = (explicit if isinstance(explicit, str) and SLUG.fullmatch(explicit) else None) \
                or slug(str(derived)) or f"part-{level}-{i}"
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
                    timeout=seconds(item.get("timeout"), here),
                    covers=tuple(covers),
                    children=children,
                )
            )
        return tuple(parsed)

    sections = parse(raw.get("sections") or [], 1, "sections")
    sections = _name_outputs(sections)
    document = {**DEFAULT_DOCUMENT, **(raw.get("document") or {})} if isinstance(raw.get("document") or {}, Mapping) else {}
    problems += check_document(document, str(path)) if document else [f"{path}: 'document' must be a mapping"]
    language = str(raw.get("language", "zh-CN"))
    if not _LANGUAGE.match(language):
        problems.append(f"{path}: language {language[:40]!r} is not a language tag such as zh-CN")
    timeout = seconds(raw.get("timeout"), "top level")
    memory = str(raw.get("memory", DEFAULT_MEMORY))
    size = memory_bytes(memory)
    if size is None or not MIN_MEMORY <= size <= 1024**4:
        problems.append(f"{path}: memory: {memory[:20]!r} is not a memory size from 768MB to 1024GB (such as 4GB)")
    if raw.get("title"):
        _check_fields(str(raw["title"]), f"{path}: title", problems)
    if not isinstance(raw.get("dataset_metadata", False), bool):
        problems.append(f"{path}: dataset_metadata: {str(raw['dataset_metadata'])[:40]!r} must be true or false")
    params = raw.get("params") or {}
    if not isinstance(params, Mapping):
        problems.append(f"{path}: 'params' must map names (letters, digits, _) to values")
        params = {}
    else:
        import keyword

        for key, value in params.items():
            at = f"{path}, line {key_lines.get(key)}" if key_lines.get(key) else str(path)
            if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
                problems.append(f"{at}: params: {str(key)[:60]!r} is not a name (letters, digits and _)")
            elif not literal(value):
                problems.append(f"{at}: params: {key!r}: {type(value).__name__} is not a value a config may give")
    if problems:
        raise ConfigError("\n".join(problems))
    return ReportConfig(
        path=path.resolve(),
        body=str(raw["body"]),
        title_pattern=str(raw["title"]),
        language=language,
        numbering=numbering,
        notebooks_dir=notebooks_dir,
        sections=sections,
        allow_personal_data=bool(raw.get("allow_personal_data", False)),
        dataset_metadata=raw.get("dataset_metadata") is True,
        document=document,
        timeout=timeout or DEFAULT_TIMEOUT,
        memory=memory,
        texts=tuple(yamlfile.strings(tree)),
        params=dict(params),
        index_pattern=str(raw["index_title"]) if raw.get("index_title") else None,
    )


def _check_fields(pattern: str, where: str, problems: list[str]) -> None:
    """A title or heading may name only {year}, {prev_year}, {next_year} and {body}; other braces are refused."""
    import string

    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    except ValueError as exc:
        problems.append(f"{where} {pattern!r}: {exc} (write {{{{ and }}}} for a literal brace)")
        return
    unknown = [f for f in fields if f not in TEXT_FIELDS]
    if unknown:
        problems.append(f"{where} {pattern!r} names {unknown}; it may name {{year}}, {{prev_year}}, {{next_year}} and {{body}}")


def _notebook_path(notebooks_dir: Path, notebook: str, where: str, problems: list[str]) -> Path | None:
    """The notebook's path if it is a notebook file inside the notebooks folder (symlinks resolved); else a problem."""
    candidate = Path(notebook)
    resolved = (notebooks_dir / candidate).resolve()
    if candidate.is_absolute() or ".." in candidate.parts or not resolved.is_relative_to(notebooks_dir):
        problems.append(f"{where}: notebook {notebook!r} is outside the notebooks folder {notebooks_dir}; "
                        "name a notebook in it, such as 10-measures.ipynb")
        return None
    if candidate.suffix != ".ipynb":
        problems.append(f"{where}: notebook {notebook!r} is not a notebook (.ipynb) file")
        return None
    if not resolved.is_file():
        problems.append(f"{where}: notebook {notebook!r} not found in {notebooks_dir}")
        return None
    return notebooks_dir / candidate
