"""Table declarations (``<data-dir>/tables.yml``) and the pandera schema each one becomes.

A declaration names a table's file, its columns (type, Chinese label, unit, allowed
values, range), the columns that identify a row, and checks across tables (a
summary figure equals the sum of the register it comes from). The library turns
each declaration into a :class:`pandera.DataFrameSchema` for the report year, so
the rules live in one place that staff can read and the data README documents.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


from ..core.paths import TABLES_FILE  # noqa: F401 - public here too
from ..core import yamlfile
from ..core.exceptions import DataError

COLUMN_TYPES = ("text", "integer", "number", "date", "category")
DEFAULT_MAX = 10**12  # larger counts and amounts are typing slips (an extra digit, a pasted ID), not figures


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    label: str
    description: str = ""
    unit: str = ""
    categories: tuple[str, ...] = ()
    required: bool = True
    min: float | None = None
    max: float | None = None
    example: str = ""
    since: int | None = None  # the first year the register keeps this column; earlier years need not have it

    def kept_in(self, year: int) -> bool:
        """Whether ``year``'s register must have this column (one added in a later year is not asked of earlier ones)."""
        return self.since is None or int(year) >= self.since

    def required_in(self, year: int) -> bool:
        return self.required and self.kept_in(year)

    @property
    def numeric(self) -> bool:
        return self.type in ("integer", "number")

    def expectation(self) -> str:
        """What a cell of this column must hold, in plain words (Chinese, then English)."""
        unit = f"，单位{self.unit}" if self.unit else ""
        low = 0 if self.min is None else self.min
        high = f"、不大于{_readable(self.max)}" if self.max is not None else ""
        return {
            "text": "应填写文字 (text)",
            "integer": f"应为不小于{low:g}{high}的整数{unit} (a whole number ≥ {low:g})",
            "number": f"应为不小于{low:g}{high}的数{unit} (a number ≥ {low:g})",
            "date": "应为日期，写作 YYYY-MM-DD (a date, e.g. 2020-03-31)",
            "category": f"应为以下之一：{'、'.join(self.categories)} (one of the listed values)",
        }[self.type]


_COMPARE = {ast.LtE: ("<=", operator.le, "≤"), ast.Lt: ("<", operator.lt, "<"), ast.GtE: (">=", operator.ge, "≥"),
            ast.Gt: (">", operator.gt, ">"), ast.Eq: ("==", operator.eq, "="), ast.NotEq: ("!=", operator.ne, "≠")}
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}
# How a clerk writes a comparison or a sum (≤ ≥ ≠ ＝ ＋ － ×) → Python's operators.
_SIGNS = {"≤": "<=", "≦": "<=", "≥": ">=", "≧": ">=", "≠": "!=", "＝": "=", "＋": "+", "－": "-", "−": "-", "×": "*", "＊": "*",
          "＜": "<", "＞": ">", "（": "(", "）": ")"}


@dataclass(frozen=True)
class Rule:
    """A rule within each row of a table, as a clerk writes it: ``受理件数 ≥ 办结件数``, ``网办件数 + 窗口件数 = 受理件数``,
    ``单价 * 数量 = 金额`` (or with the columns' names: ``granted <= applied``).

    Columns by name or label, numbers, ``+ - *`` and one comparison (≤ ≥ ≠ < > =): a rule is data, never code.
    """

    text: str
    tree: tuple  # ("col", name) | ("num", value) | (operator, left, right), for each side
    op: type
    right: tuple
    labels: tuple = ()  # (name, label) of every column, for messages in the clerk's words

    @classmethod
    def parse(cls, text: str, columns) -> "Rule":
        """``columns``: the table's column names, or a mapping of each name to its label."""
        labels = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
        source = str(text)
        # Labels may hold what a Python name may not (brackets, spaces): each becomes a placeholder, longest first.
        by_label = sorted(((label, name) for name, label in labels.items() if label and label != name), key=lambda p: -len(p[0]))
        placeholders: dict[str, str] = {}
        for i, (label, name) in enumerate(by_label):
            if label in source:
                placeholders[f"_col{i}_"] = name
                source = source.replace(label, f" _col{i}_ ")
        for sign, python in _SIGNS.items():
            source = source.replace(sign, python)
        source = re.sub(r"(?<![<>!=])=(?!=)", "==", source)  # a clerk's = is a comparison
        try:
            tree = ast.parse(source.strip(), mode="eval").body
        except SyntaxError:
            raise ValueError(f"rule {text!r} is not of the form 'a <= b' (or 受理件数 ≥ 办结件数)") from None
        if not isinstance(tree, ast.Compare) or len(tree.ops) != 1 or type(tree.ops[0]) not in _COMPARE:
            raise ValueError(f"rule {text!r} must compare two sides with one of ≤ < ≥ > = ≠")
        known = {**{n: n for n in labels}, **placeholders}
        return cls(str(text), _expression(tree.left, known, text, labels), type(tree.ops[0]),
                   _expression(tree.comparators[0], known, text, labels), tuple(labels.items()))

    @property
    def left(self) -> tuple:
        return self.tree

    @property
    def columns(self) -> list[str]:
        return list(dict.fromkeys([*_names(self.tree), *_names(self.right)]))

    def holds(self, frame):
        """Per row: True where the rule holds or a value it needs is missing (that is told elsewhere)."""
        left, right = _evaluate(frame, self.tree), _evaluate(frame, self.right)
        if self.op in (ast.Eq, ast.NotEq):  # amounts with fractions: 0.1 × 3 is 0.3 here
            equal = (left - right).abs() <= 1e-9 * right.abs().clip(lower=1.0)
            return (equal if self.op is ast.Eq else ~equal) | left.isna() | right.isna()
        return _COMPARE[self.op][1](left, right) | left.isna() | right.isna()

    def explain(self, values: Mapping[str, object]) -> str:
        labels = dict(self.labels)
        shown = "，".join(f"{labels.get(c, c)} = {values.get(c)}" for c in self.columns)
        return f"{shown}：不满足规则 {self.text} (the row breaks the rule {self.text!r})"


def _expression(node, known: dict[str, str], text: str, labels: dict) -> tuple:
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        return (type(node.op), _expression(node.left, known, text, labels), _expression(node.right, known, text, labels))
    if isinstance(node, ast.Name):
        if node.id not in known:
            raise ValueError(f"rule {text!r} names {node.id!r}, which is not a column "
                             f"(columns: {'、'.join(f'{labels[n]}（{n}）' if labels[n] != n else n for n in labels)})")
        return ("col", known[node.id])
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return ("num", node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return ("num", -_expression(node.operand, known, text, labels)[1])
    raise ValueError(f"rule {text!r}: only columns, numbers, + - * and one comparison may be written")


def _names(tree: tuple) -> list[str]:
    if tree[0] == "col":
        return [tree[1]]
    if tree[0] == "num":
        return []
    return [*_names(tree[1]), *_names(tree[2])]


def _evaluate(frame, tree: tuple):
    import pandas as pd

    if tree[0] == "col":
        return pd.to_numeric(frame[tree[1]], errors="coerce")
    if tree[0] == "num":
        return pd.Series(float(tree[1]), index=frame.index)
    return _ARITHMETIC[tree[0]](_evaluate(frame, tree[1]), _evaluate(frame, tree[2]))


def _readable(number: float) -> str:
    """A limit as a clerk reads it: 500, 1.5, 100万."""
    from ..core.numbers import scaled

    if number >= 10**12 and float(number).is_integer():
        return f"{number / 10**12:g}万亿"
    if number >= 10_000 and float(number).is_integer():
        return scaled(int(number))
    return f"{number:g}"


@dataclass(frozen=True)
class TableSpec:
    name: str
    file: str
    title: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default=())
    optional: bool = False
    since: int | None = None  # the first year kept; earlier years need not have it (nothing to compare with)
    notes: tuple[str, ...] = ("备注",)  # header cells of columns that hold notes, kept out of the data
    rules: tuple[Rule, ...] = ()  # rules within each row

    def kept_in(self, year: int) -> bool:
        """Whether ``year`` must have this table (a table added in a later year is not asked of earlier ones)."""
        return not self.optional and (self.since is None or int(year) >= self.since)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def stem(self) -> str:
        return Path(self.file).stem


@dataclass(frozen=True)
class Quantity:
    """A total drawn from a table: the sum of ``column`` (or the row count) over rows matching ``where``."""

    table: str
    column: str | None = None
    where: Mapping[str, object] = field(default_factory=dict)

    def describe(self, spec: "TableSpec", value) -> str:
        """The quantity as a clerk would say it: 生源地信用助学贷款办理登记共 425 行; …资助人次合计 2618."""
        where = "".join(f"{v}" for v in self.where.values())
        scope = f" 其中{where}" if where else ""
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        if self.column:
            return f"{spec.title}{scope} {spec.column(self.column).label}合计 {shown}"
        return f"{spec.title}{scope} 共 {shown} 行"


@dataclass(frozen=True)
class CrossCheck:
    description: str
    total: Quantity
    equals: Quantity


@dataclass(frozen=True)
class Declarations:
    path: Path
    tables: Mapping[str, TableSpec]
    checks: tuple[CrossCheck, ...]


def _quantity(raw, where: str, problems: list[str], tables: Mapping) -> Quantity | None:
    if not isinstance(raw, Mapping) or raw.get("table") not in tables:
        problems.append(f"{where}: needs 'table' naming a declared table (declared: {sorted(tables)})")
        return None
    quantity = Quantity(str(raw["table"]), raw.get("column"), dict(raw.get("where") or {}))
    names = {c.name for c in tables[quantity.table].columns}
    unknown = [c for c in [quantity.column, *quantity.where] if c and c not in names]
    if unknown:
        problems.append(f"{where}: table '{quantity.table}' has no column {unknown}")
    return quantity


_TOP_KEYS = ("tables", "checks")
_TABLE_KEYS = ("file", "title", "description", "columns", "key", "optional", "since", "notes", "rules")
_COLUMN_KEYS = ("type", "label", "description", "unit", "categories", "required", "min", "max", "example", "since")
_CHECK_KEYS = ("description", "total", "equals")


def _unknown(mapping: Mapping, known: tuple[str, ...], where: str) -> list[str]:
    """A problem for each key a declaration does not know: a misspelt key (or a text whose unquoted commas made
    keys of its words) is named, never ignored."""
    return [f"{where}: unknown key {str(key)[:40]!r} (known: {', '.join(known)}); a text with a comma or colon in "
            "{…} needs quotes" for key in mapping if key not in known]


@functools.cache
def _read(path: Path, mtime: float) -> Declarations:
    raw = yamlfile.read(path, DataError)[0] or {}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("tables", {}), Mapping):
        raise DataError(f"{path}: expected 'tables:' (a mapping of table names to declarations) and optional 'checks:'")
    problems: list[str] = _unknown(raw, _TOP_KEYS, f"{path}")
    tables: dict[str, TableSpec] = {}
    for name, body in (raw.get("tables") or {}).items():
        where = f"{path}: table '{name}'"
        if not isinstance(body, Mapping) or not isinstance(body.get("columns"), Mapping):
            problems.append(f"{where}: needs a 'columns' mapping")
            continue
        problems += _unknown(body, _TABLE_KEYS, where)
        columns = []
        for col, decl in body["columns"].items():
            decl = decl or {}
            if not isinstance(decl, Mapping):
                problems.append(f"{where}, column '{col}': expected a mapping such as {{type: integer, label: 人数}}")
                continue
            problems += _unknown(decl, _COLUMN_KEYS, f"{where}, column '{col}'")
            for bound in ("min", "max"):
                if decl.get(bound) is not None and (isinstance(decl[bound], bool) or not isinstance(decl[bound], (int, float))):
                    problems.append(f"{where}, column '{col}': '{bound}' must be a number, not {decl[bound]!r}")
            kind = decl.get("type", "text")
            if kind not in COLUMN_TYPES:
                problems.append(f"{where}, column '{col}': type '{kind}' is not one of {COLUMN_TYPES}")
                continue
            if kind == "category" and not decl.get("categories"):
                problems.append(f"{where}, column '{col}': a category column needs its 'categories' listed")
            column_since = decl.get("since")
            if column_since is not None and (isinstance(column_since, bool) or not isinstance(column_since, int)):
                problems.append(f"{where}, column '{col}': 'since' must be a year such as 2020, not {column_since!r}")
                column_since = None
            columns.append(
                Column(
                    name=str(col),
                    type=kind,
                    label=str(decl.get("label", col)),
                    description=str(decl.get("description", "")),
                    unit=str(decl.get("unit", "")),
                    categories=tuple(str(c) for c in decl.get("categories", ())),
                    required=bool(decl.get("required", True)),
                    min=decl.get("min"),
                    max=decl.get("max", DEFAULT_MAX if kind in ("integer", "number") else None),
                    example=str(decl.get("example", "")),
                    since=column_since,
                )
            )
        since = body.get("since")
        if since is not None and not (isinstance(since, int) and not isinstance(since, bool)):
            problems.append(f"{where}: 'since' must be a year such as 2020, not {since!r}")
            since = None
        key = tuple(body.get("key", ()))
        unknown_key = [k for k in key if k not in body["columns"]]
        if unknown_key:
            problems.append(f"{where}: key names unknown columns {unknown_key}")
        notes = body.get("notes", ["备注"])
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            problems.append(f"{where}: 'notes' must list the header texts of notes columns, such as [备注, 说明]")
            notes = []
        rules = []
        for text in body.get("rules") or []:
            try:
                rules.append(Rule.parse(text, {c.name: c.label for c in columns}))
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
        file = str(body.get("file", f"{name}.csv"))
        if Path(file).is_absolute() or ".." in Path(file).parts or "\\" in file or len(Path(file).parts) != 1:
            problems.append(f"{where}: file {file!r} must be a file name in the year's folder, such as {name}.csv")
        tables[str(name)] = TableSpec(
            name=str(name),
            file=file,
            title=str(body.get("title", name)),
            description=str(body.get("description", "")),
            columns=tuple(columns),
            key=key,
            optional=bool(body.get("optional", False)),
            since=since,
            notes=tuple(notes),
            rules=tuple(rules),
        )
    checks = []
    for i, item in enumerate(raw.get("checks") or [], 1):
        where = f"{path}: check {i}"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: expected 'description', 'total' and 'equals'")
            continue
        problems += _unknown(item, _CHECK_KEYS, where)
        total = _quantity(item.get("total"), f"{where} 'total'", problems, tables)
        equals = _quantity(item.get("equals"), f"{where} 'equals'", problems, tables)
        if total and equals:
            checks.append(CrossCheck(str(item.get("description", f"check {i}")), total, equals))
    if problems:
        raise DataError(problems)
    return Declarations(path, tables, tuple(checks))


def declarations(data_dir: str | Path) -> Declarations:
    """The declarations of ``<data_dir>/tables.yml``."""
    path = Path(data_dir) / TABLES_FILE
    if not path.is_file():
        raise DataError(f"{path}: missing; it declares the tables each year's folder holds")
    return _read(path.resolve(), path.stat().st_mtime)


def table_specs(data_dir: str | Path) -> Mapping[str, TableSpec]:
    return declarations(data_dir).tables


def pandera_schema(spec: TableSpec, year: int):
    """The pandera schema a typed table of ``spec`` must satisfy for report year ``year``."""
    import pandera.pandas as pa

    columns = {}
    for col in spec.columns:
        checks = []
        if col.numeric:
            checks.append(pa.Check.ge(0 if col.min is None else col.min))
            if col.max is not None:
                checks.append(pa.Check.le(col.max))
        if col.type == "category":
            checks.append(pa.Check.isin(list(col.categories)))
        if col.type == "date":
            checks.append(pa.Check.in_range(pd_timestamp(year, 1, 1), pd_timestamp(year, 12, 31)))
        if col.type == "text" and col.required_in(year):
            checks.append(pa.Check.str_length(min_value=1))
        columns[col.name] = pa.Column(
            dtype=None, checks=checks, nullable=not col.required_in(year), required=True, name=col.name
        )
    rules = [pa.Check(rule.holds, name=f"rule: {rule.text}", element_wise=False) for rule in spec.rules]
    return pa.DataFrameSchema(columns, checks=rules or None, unique=list(spec.key) or None, strict=True, name=spec.name)


def pd_timestamp(year: int, month: int, day: int):
    import pandas as pd

    return pd.Timestamp(dt.date(year, month, day))
