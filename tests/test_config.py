"""The report outline read from config, and config mistakes named plainly."""

import pytest

from annual_review.core.config import heading_number, load_config
from annual_review.core.exceptions import ConfigError
from conftest import CONFIG


def test_the_seed_outline():
    config = load_config(CONFIG)
    assert config.title(2020) == "广州市从化区教育局2020年度法治政府建设情况报告"
    top = [(s.heading, s.level) for s in config.sections]
    follow_up = ("上年度工作措施落实情况", 1)  # only in years with last year's plans to follow up
    overview = ("主要指标", 1)  # the key figures up front, without a number
    assert top == [(None, 0), overview, ("主要工作措施和成效。", 1), follow_up, ("主要存在问题。", 1), ("下一阶段工作措施", 1)]
    assert [s.numbered for s in config.sections] == [True, False, True, True, True, True]
    in_2020 = [(s.heading, s.level) for s in config.for_year({"licence_decisions"}).sections]
    assert follow_up not in in_2020 and len(in_2020) == 5
    measures = config.sections[2].children
    assert len(measures) == 7 and all(s.level == 2 for s in measures)
    assert [s.notebook.name for s in config.executable_sections()][:2] == ["00-opening.ipynb", "05-key-figures.ipynb"]


@pytest.mark.parametrize(
    "numbering, level, n, expected",
    [
        (("{cn}、", "({cn})"), 1, 3, "三、"),
        (("{cn}、", "({cn})"), 2, 7, "(七)"),
        (("{cn}、", "（{cn}）", "{n}.", "（{n}）"), 3, 2, "2."),
        (("{cn}、",), 2, 1, "一、"),  # deeper than the styles given: the last style repeats
        (("{cn}、",), 0, 1, ""),  # unheaded parts have no number
    ],
)
def test_heading_numbers(numbering, level, n, expected):
    assert heading_number(numbering, level, n) == expected


def test_every_config_problem_is_listed(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text(
        "body: 某局\ncolour: red\nsections:\n  - heading: 甲\n    notebook: none.ipynb\n  - id: x\n  - {heading: 乙, notebook: none.ipynb, id: x}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "unknown key 'colour'" in message
    assert "'title' is required" in message
    assert "notebook 'none.ipynb' not found" in message
    assert "needs a 'heading', a 'notebook', or both" in message
    assert "section id 'x' is used twice" in message
