"""Chinese number phrasing, against cases written by hand from how the reports write figures."""

import pytest

from annual_review.core import numbers


@pytest.mark.parametrize(
    "n, expected",
    [(0, "零"), (3, "三"), (7, "七"), (10, "十"), (11, "十一"), (19, "十九"), (20, "二十"), (21, "二十一"),
     (99, "九十九"), (100, "一百"), (105, "一百零五"), (110, "一百一十"), (1001, "一千零一"), (2020, "二千零二十")],
)
def test_cn_numeral(n, expected):
    assert numbers.cn_numeral(n) == expected


@pytest.mark.parametrize("bad", [-1, 10000, 2.5, True])
def test_cn_numeral_rejects_what_it_cannot_write(bad):
    with pytest.raises(ValueError):
        numbers.cn_numeral(bad)


@pytest.mark.parametrize(
    "value, step, expected",
    [
        (2618, 100, "2600多"),  # the 2020 report: aided children
        (2618, None, "2600多"),  # two significant figures by default
        (156, 10, "150多"),  # the 2020 report: inspectors deployed
        (156, None, "150多"),
        (2600, 100, "2600"),  # exact: no 多
        (24, None, "20多"),
        (7, None, "7"),  # below ten: the exact figure
        (0, None, "0"),
        (5, 10, "5"),  # less than one step: the exact figure, never "0多"
    ],
)
def test_more(value, step, expected):
    assert numbers.more(value, step) == expected


@pytest.mark.parametrize(
    "value, step, unit, expected",
    [
        (697530, 100000, "万", "近70万"),  # the 2020 report: 资助资金共近70万元
        (697530, None, "万", "近70万"),
        (700000, 100000, "万", "70万"),  # exact: no 近
        (95, 10, "", "近100"),
        (150_000_000, None, "亿", "1.5亿"),
    ],
)
def test_nearly(value, step, unit, expected):
    assert numbers.nearly(value, step, unit) == expected


@pytest.mark.parametrize(
    "value, step, unit, expected",
    [(31200, 10000, "万", "3万余"), (30000, 10000, "万", "3万"), (123_456_789, 100_000_000, "亿", "1亿余")],
)
def test_over(value, step, unit, expected):
    assert numbers.over(value, step, unit) == expected


@pytest.mark.parametrize("value, unit, expected", [(697530, "万", "69.753万"), (424, "", "424"), (12.50, "", "12.5")])
def test_plain(value, unit, expected):
    assert numbers.plain(value, unit) == expected


@pytest.mark.parametrize("func", [numbers.more, numbers.nearly, numbers.over])
def test_counts_cannot_be_negative(func):
    with pytest.raises(ValueError, match="negative"):
        func(-5)


def test_percent():
    assert numbers.percent(1, 8) == "12.5%"
    assert numbers.percent(1, 4) == "25%"
    with pytest.raises(ValueError):
        numbers.percent(1, 0)


@pytest.mark.parametrize(
    "months, expected", [(range(1, 11), "1至10月"), ([10, 1, 4], "1至10月"), ([3], "3月"), ([6, 6], "6月")]
)
def test_month_span(months, expected):
    assert numbers.month_span(months) == expected


# Year-over-year, as the reports write it (issue #6): every expectation written by hand.
@pytest.mark.parametrize(
    "now, before, unit, options, expected",
    [
        (29, 26, "所", {}, "较上年增加3所、增长11.5%"),  # 3 / 26 = 11.538…%
        (23, 29, "所", {}, "较上年减少6所、下降20.7%"),  # a negative change: 6 / 29 = 20.689…%
        (424, 424, "人", {}, "与上年持平"),
        (424, 424, "人", {"lead": ""}, "持平"),
        (8, 0, "份", {}, "较上年增加8份"),  # a zero base: no rate
        (0, 5, "份", {}, "较上年减少5份、下降100%"),
        (0, 0, "份", {}, "与上年持平"),
        (12, 8, "份", {"lead": ""}, "增加4份、增长50%"),
        (200, 100, "次", {}, "较上年增加100次、增长100%"),
        (731200, 697530, "元", {"scale": "万"}, "较上年增加3.367万元、增长4.8%"),  # 33670 / 697530 = 4.827%
        (2750, 2618, "人次", {"digits": 2}, "较上年增加132人次、增长5.04%"),  # 132 / 2618 = 5.042%
        (29, 26, "所", {"prefix": "，"}, "，较上年增加3所、增长11.5%"),
        (5, 5, "份", {"prefix": "，"}, "，与上年持平"),
        (29, None, "所", {"prefix": "，"}, ""),  # no previous figure: nothing is said, not even the comma
        (None, 29, "所", {}, ""),
    ],
)
def test_change(now, before, unit, options, expected):
    assert numbers.change(now, before, unit, **options) == expected


@pytest.mark.parametrize("bad", [(-1, 5), (5, float("nan")), ("5", 3)])
def test_change_refuses_what_is_not_a_count(bad):
    with pytest.raises(ValueError):
        numbers.change(*bad)


@pytest.mark.parametrize(
    "value, expected",
    [
        (697530, "69.75万"),  # 69.753 → two decimals
        (31200, "3.12万"),
        (10000, "1万"),
        (9999, "9999"),  # below 万: exact
        (0, "0"),
        (150_000_000, "1.5亿"),
        (123_456_789, "1.23亿"),
        (100_000_000, "1亿"),
    ],
)
def test_scaled(value, expected):
    assert numbers.scaled(value) == expected
