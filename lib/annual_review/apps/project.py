"""A new body's project: ``annual-review init DIR --body NAME --outline {three-part,five-item}``.

It writes everything a body needs to build its first report at once, and every year
after with the same config: ``report.yml`` with the chosen outline (its headings name
the year, so one config serves every year), the generic narrative notebook for
sections of text and an example register with its notebook (both shipped in the
package), a starter ``tables.yml``, narrative stubs saying what each part should
contain, an example register file, ``provenance.md`` and a README for the body.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

from ..core.exceptions import ConfigError
from ..core.files import write_atomic
from ..core.paths import TABLES_FILE, narrative_dir

OUTLINES = ("three-part", "five-item")
FOLLOW_UP_HEADING = "上年度工作措施落实情况"
NOTEBOOKS = ("narrative.ipynb", "register.ipynb", "follow-up.ipynb")
TEMPLATES = resources.files("annual_review") / "templates" / "project"

# (section id, heading, what it covers, what its narrative should say)
FIVE_ITEMS = [
    ("measures", "{year}年推进法治政府建设的主要举措和成效", "measures",
     "本年度推进法治政府建设的主要举措和取得的成效：依法全面履行职能、依法行政制度体系、重大行政决策、行政执法、"
     "行政权力制约和监督、社会矛盾纠纷化解、工作人员法治思维和依法行政能力等方面，每项写明做了什么、成效如何（数字来自登记表）。"),
    ("shortcomings", "{year}年推进法治政府建设存在的不足和原因", "shortcomings",
     "存在的不足和原因：实事求是写明问题，并分析原因。"),
    ("leaders_duty", "党政主要负责人履行推进法治建设第一责任人职责，加强法治政府建设的有关情况", "leaders_duty",
     "党政主要负责人履行推进法治建设第一责任人职责的情况：研究部署、带头学法、重大事项过问、督促检查等。"),
    ("plans", "{next_year}年推进法治政府建设的主要安排", "plans",
     "下一年度的主要安排：每项一行，写成编号列表（1. …），下一年 `annual-review new-year` 会据此生成落实情况清单。"),
    ("other", "其他需要报告的情况", "other", "其他需要报告的情况；没有则写“无”。"),
]
THREE_PARTS = [
    ("measures", "主要工作措施和成效", "measures", FIVE_ITEMS[0][3]),
    ("shortcomings", "主要存在问题", "shortcomings", FIVE_ITEMS[1][3]),
    ("plans", "下一阶段工作措施", "plans", FIVE_ITEMS[3][3]),
]
REGISTER = """# The tables each year's folder holds (data/<year>/<file>), one entry per table: see the toolkit's data README.
# Column types: text, integer (whole number ≥ 0), number (≥ 0), date (inside the report year), category (listed values).
tables:
  enforcement_cases:
    file: enforcement_cases.csv
    title: 行政执法案件登记
    description: One row per administrative enforcement case decided in the year (an example register; replace it with yours).
    key: [case_no]
    columns:
      case_no: {type: text, label: 案件编号, description: The case's reference number.}
      decided_on: {type: date, label: 办结日期, description: Date the case was decided.}
      kind: {type: category, label: 案件类别, categories: [行政许可, 行政处罚, 行政检查], description: What kind of case.}

  follow_up:
    file: follow_up.csv
    title: 上年工作措施落实情况
    description: Last year's planned measures, carried forward by `annual-review new-year`, with what became of each.
    optional: true
    key: [item]
    columns:
      item: {type: text, label: 上年工作措施}
      status: {type: category, label: 落实情况, categories: [已完成, 推进中, 未启动]}
      progress: {type: text, label: 进展说明, required: false}
"""


def _config(body: str, outline: str) -> str:
    parts = FIVE_ITEMS if outline == "five-item" else THREE_PARTS
    lines = [
        f"# {body}: the outline of its annual report on rule-of-law government construction (法治政府建设年度报告).",
        "# Headings may name {year}, {prev_year}, {next_year} and {body}: one config builds every year.",
        "# `covers:` says which of the 2019 rules' five items a part reports on (`annual-review check` lists what is missing).",
        f"body: {body}",
        'title: "{body}{year}年法治政府建设年度报告"',
        "language: zh-CN",
        "notebooks: notebooks",
        "sections:",
    ]
    for key, heading, covers, _ in parts:
        lines.append(f'  - heading: "{heading}"')
        lines.append(f"    covers: {covers}")
        if key == "measures":
            lines += ["    notebook: narrative.ipynb", f"    parameters: {{section: {key}}}", "    sections:",
                      "      - heading: 行政执法", "        notebook: register.ipynb", "        parameters: {section: enforcement}"]
        else:
            lines += ["    notebook: narrative.ipynb", f"    parameters: {{section: {key}}}"]
        if key == "measures":  # what became of last year's plans: from the second year on (new-year carries them)
            lines += [f'  - heading: "{FOLLOW_UP_HEADING}"', "    notebook: follow-up.ipynb", "    requires: follow_up"]
    return "\n".join(lines) + "\n"


def init(folder: str | Path, body: str, outline: str = "five-item", year: int | None = None) -> list[Path]:
    """Write a new body's project into ``folder`` (which must be new or empty); return the files written."""
    folder = Path(folder)
    if outline not in OUTLINES:
        raise ConfigError(f"outline {outline!r}: choose one of {', '.join(OUTLINES)}")
    if not body.strip() or any(c in body for c in "{}\n\"'"):
        raise ConfigError(f"body {body!r}: the body's name, such as 某某县教育局 (no braces, quotes or line breaks)")
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder}: already exists and is not empty; nothing was written")
    year = year or dt.date.today().year - 1  # the report is written early in the year after
    parts = FIVE_ITEMS if outline == "five-item" else THREE_PARTS
    written = [
        write_atomic(folder / "report.yml", _config(body, outline)),
        write_atomic(folder / "data" / TABLES_FILE, REGISTER),
        write_atomic(folder / "data" / str(year) / "enforcement_cases.csv",
                     f"case_no,decided_on,kind\nEX-{year}-001,{year}-03-02,行政许可\nEX-{year}-002,{year}-05-18,行政处罚\n"
                     f"EX-{year}-003,{year}-09-07,行政检查\n"),
        write_atomic(folder / "data" / str(year) / "provenance.md",
                     f"【待填写：各登记表的数据来源】{year}年数据为初始示例（annual-review init 生成），请换成本单位的登记表。\n"),
    ]
    for key, heading, _, guidance in parts:
        # What the part should contain, as a comment the report never shows ({# … #}), then a line to replace: a
        # final build refuses the 【待填写】 mark until it is replaced (a draft shows it highlighted).
        stub = (f"{{# {heading.format(year=year, next_year=year + 1)}：{guidance} #}}\n"
                f"{{{{ body }}}}{{{{ year }}}}年【待填写：本部分的内容】。\n")
        if key == "plans":
            stub = f"{{# {guidance} #}}\n1. 【待填写：第一项安排】\n2. 【待填写：第二项安排】\n"
        written.append(write_atomic(narrative_dir(folder / "data", year) / f"{key}.md", stub))
    written.append(write_atomic(narrative_dir(folder / "data", year) / "enforcement.md",
                                "全年办结行政执法案件{{ decided }}件{{ decided | change(prefix=\"，\") }}，其中行政处罚案件"
                                "{{ penalties }}件。\n"))
    for notebook in NOTEBOOKS:
        written.append(write_atomic(folder / "notebooks" / notebook, (TEMPLATES / notebook).read_bytes()))
    written.append(write_atomic(folder / "README.md", _readme(body, outline, year)))
    (folder / "outputs").mkdir(exist_ok=True)
    return written


def _readme(body: str, outline: str, year: int) -> str:
    return f"""# {body}：法治政府建设年度报告

Built with [annual-review](https://pypi.org/project/annual-review/) from this folder's config, notebooks and data.

```sh
annual-review build --all                 # every year in data/ → outputs/<year>/report.html (and .pdf)
annual-review check                       # the 2019 rules' five items, the deadline, punctuation
annual-review new-year {year + 1}                # start data/{year + 1}/ from {year}, next steps carried forward
```

- `report.yml` — the outline ({outline}); headings name the year with `{{year}}`, `{{next_year}}`, so one config
  serves every year.
- `data/tables.yml` — the registers kept; `enforcement_cases` is an example: replace it with yours.
- `data/<year>/narrative/*.md` — each part's text; the comment at the top of each stub says what it should contain.
- `data/<year>/provenance.md` — where that year's figures come from; the report's footer repeats it.
- `notebooks/narrative.ipynb` shows a part of text only; `notebooks/register.ipynb` a register's figures, table and
  chart (copy it for another register); `notebooks/follow-up.ipynb` what became of last year's plans (from the
  second year on: `new-year` carries the plans into `follow_up.csv`).
- A final build refuses text still marked 【待填写】, a required part left empty, and last year's paragraphs that
  `new-year` carried over and no one has edited or marked `{{# 保留 #}}`; `annual-review build --draft` builds them
  highlighted, and `annual-review check` lists them.
"""
