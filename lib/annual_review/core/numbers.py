"""Numbers as Chinese reports write them.

The data always holds exact values; these functions turn them into the phrasing
of a published report: ``2618`` → ``2600多``, ``697530`` 元 → ``近70万``,
``31200`` → ``3万余``, ``3`` → ``三``.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from numbers import Real

from .chinese import cn_numeral  # noqa: F401 - numbers as narratives write them, here too

_UNITS = ((100_000_000, "亿"), (10_000, "万"))
MONEY_UNIT = "元"  # a figure in this unit is an amount of money, written by the document's money rule
NO_FIGURE = "—"  # what tables, comparisons and charts show where there is no figure (never "0", never "None")


def whole(value):
    """``value`` as a plain int when it is a whole float (3.0 → 3: registers and spreadsheets hold counts as floats),
    otherwise unchanged. The one place numbers are made whole."""
    if hasattr(value, "item") and not isinstance(value, (int, float)):  # a NumPy scalar
        value = value.item()
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _check_count(value: Real, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value):
        raise ValueError(f"{what} takes a number, not {value!r}")
    if value < 0:
        raise ValueError(f"{what} phrases counts and amounts, which cannot be negative: {value!r}")


def default_step(value: Real) -> int:
    """The rounding step a report uses: two significant figures from 100 up, tens below, none below ten."""
    if value < 10:
        return 1
    if value < 100:
        return 10
    return 10 ** (len(str(int(value))) - 2)


def plain(value: Real, unit: str = "") -> str:
    """An exact figure, scaled to 万 or 亿 when ``unit`` asks for it: plain(697530, "万") → "69.753万"."""
    _check_count(value, "plain")
    scale = dict((name, size) for size, name in _UNITS).get(unit, 1)
    text = format(Decimal(str(value)) / scale, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + unit


def more(value: Real, step: int | None = None, unit: str = "") -> str:
    """Round down and say so: more(2618) → "2600多"; more(156) → "150多"; exact values stay exact."""
    return _approximate(value, step, unit, "more", mark="多", direction=math.floor, prefix=False)


def over(value: Real, step: int | None = None, unit: str = "") -> str:
    """Like :func:`more` with 余, the usual word next to 万 and 亿: over(31200, 10000, "万") → "3万余"."""
    return _approximate(value, step, unit, "over", mark="余", direction=math.floor, prefix=False)


def nearly(value: Real, step: int | None = None, unit: str = "") -> str:
    """Round up and say so: nearly(697530, 100000, "万") → "近70万"; exact values stay exact."""
    return _approximate(value, step, unit, "nearly", mark="近", direction=math.ceil, prefix=True)


def _approximate(value, step, unit, what, *, mark, direction, prefix) -> str:
    _check_count(value, what)
    step = default_step(value) if step is None else step
    if not isinstance(step, int) or step < 1:
        raise ValueError(f"{what}: the rounding step must be a whole number of at least 1, not {step!r}")
    rounded = direction(value / step) * step
    text = plain(rounded, unit)
    if rounded == value or rounded == 0:
        # Nothing to approximate (or nothing left after rounding down): say the exact figure.
        return plain(value, unit) if rounded == 0 else text
    return mark + text if prefix else text + mark


def money_rule() -> str:
    """How this report writes amounts of money: "元" (697,530) or "万元" (69.75), from ``document.money``."""
    from .context import told_context

    return str(told_context().get("money", MONEY_UNIT))


def shown_unit(unit: str, money: str | None = None) -> str:
    """The unit a figure is shown in: 元 becomes 万元 where the document writes money in 万元."""
    return (money or money_rule()) if unit == MONEY_UNIT else unit


def figure_text(value, unit: str = "", money: str | None = None) -> str:
    """A figure as tables and comparisons write it: money by the document's rule (697,530 or 69.75), a whole
    number as it is (2618), no figure as "—" (and zero as 0)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NO_FIGURE
    if isinstance(value, bool) or not isinstance(value, Real):
        return str(value)
    number = Decimal(str(value))
    if unit == MONEY_UNIT and (money or money_rule()) == "万元":
        return f"{number / 10_000:,.2f}"
    text = f"{number:,f}" if unit == MONEY_UNIT else f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def labelled(label: str, unit: str) -> str:
    """A column or row label with its unit said once, as shown: 资助金额（元）; 资助人次 (its last word is its unit);
    （元） becomes （万元） where the document writes money in 万元."""
    if not unit:
        return label
    shown = shown_unit(unit)
    bracket = BRACKETED.search(label)
    if bracket:
        return label[: bracket.start()] + f"（{shown}）" if bracket.group(1) in (unit, shown) else label
    if len(unit) > 1 and label.endswith((unit, shown)):  # 资助人次 says 人次; but 案件 does not say 件
        return label
    return f"{label}（{shown}）"


BRACKETED = re.compile(r"[（(]([^（）()]{1,12})[）)]$")


def _percent_text(value: float, digits: int, whole: bool = False) -> str:
    """``value`` per cent to ``digits`` places, trailing zeros dropped; never 100 unless ``whole`` (the part is all
    of it), never 0 for a part that is not nothing."""
    text = f"{value:.{digits}f}"
    if not whole and float(text) >= 100 and value < 100:  # 99.97 is not all of it: 99.9, not 100
        text = f"{math.floor(value * 10**digits) / 10**digits:.{digits}f}"
    while value > 0 and float(text) == 0 and digits < 6:  # 0.03, not 0
        digits += 1
        text = f"{value:.{digits}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


class Share:
    """A part of a whole (this year's, and last year's where there is one), as reports write it: 12.5%.

    ``{{ share }}`` writes this year's; ``{{ share | change }}`` the change in percentage points
    (较上年提高1.2个百分点). Made by :func:`rate`.
    """

    narrative_fields = ("now", "last", "change")

    def __init__(self, now: float | None, last: float | None, text: str, last_text: str, digits: int, note: str = ""):
        self.now, self.last, self._text, self._last_text, self.digits, self.note = now, last, text, last_text, digits, note

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Share({self._text!r})"

    @property
    def change(self) -> str:
        """This year's share against last year's in percentage points: 较上年提高1.2个百分点 / 降低… / 与上年持平."""
        if self.now is None or self.last is None:
            return ""
        points = round((self.now - self.last) * 100, self.digits)
        if points == 0:
            return "与上年持平"
        shown = f"{abs(points):.{self.digits}f}".rstrip("0").rstrip(".")
        return f"较上年{'提高' if points > 0 else '降低'}{shown}个百分点"


def _share(part, whole, digits: int, may_exceed: bool, zero: str, what: str) -> tuple[float | None, str, str]:
    """(fraction, text, note) of one part and whole."""
    for value in (part, whole):
        if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value):
            raise ValueError(f"{what} takes numbers or figures, not {value!r}")
    if part < 0 or whole < 0:
        raise ValueError(f"{what}: a share cannot be negative ({part} of {whole}); check the figures it is made of")
    if part > whole and not may_exceed:  # (a part of a whole of 0 too: the figures disagree)
        raise ValueError(f"{what}: the part ({part}) is more than the whole ({whole}), which a share cannot be; if it may "
                         "be (a rate of more than 100%), say so: may_exceed=True")
    if whole == 0:
        return None, zero, f"{what}: the whole is 0, so there is no share of it; " + (
            f"wrote “{zero}” instead" if zero else "nothing was written (give words for it: zero=\"…\")")
    return part / whole, _percent_text(100 * part / whole, digits, whole=part == whole), ""


def rate(part, whole, digits: int = 1, *, may_exceed: bool = False, zero: str = "") -> Share:
    """``part`` as a share of ``whole``: rate(1, 8) → 12.5%; numbers or figures (ar.figure gives this year's and last
    year's, and so does the share).

    A part below the whole is never written 100% (2999 of 3000 → 99.9%), a part above it is refused unless
    ``may_exceed`` (then 102.4%), a negative share is refused, and a whole of 0 gives ``zero`` (the author's words;
    by default nothing) and a note instead of stopping the build.
    """
    def now_and_last(value):
        if hasattr(value, "narrative_fields") and hasattr(value, "now"):
            return value.now, value.last
        return value, None

    part_now, part_last = now_and_last(part)
    whole_now, whole_last = now_and_last(whole)
    now, text, note = _share(part_now, whole_now, digits, may_exceed, zero, "rate")
    last, last_text = None, ""
    if part_last is not None and whole_last is not None:
        last, last_text, _ = _share(part_last, whole_last, digits, may_exceed, zero, "rate (last year)")
    return Share(now, last, text, last_text, digits, note)


def percent(part: Real, whole: Real, digits: int = 1) -> str:
    """A share as reports write it: percent(1, 8) → "12.5%" (see :func:`rate`: never 100% below the whole, never
    more than the whole, never negative, a whole of 0 writing nothing)."""
    return str(rate(part, whole, digits))


def month_span(months: list[int] | set[int]) -> str:
    """The months a period covers, as reports write them: {1, …, 10} → "1至10月"; {3} → "3月"."""
    months = sorted(set(int(m) for m in months))
    if not months:
        raise ValueError("month_span: no months given")
    if months[0] == months[-1]:
        return f"{months[0]}月"
    return f"{months[0]}至{months[-1]}月"


def scaled(value: Real, digits: int = 2) -> str:
    """A large figure in 万 or 亿 as reports write them, to ``digits`` decimals at most.

    scaled(697530) → "69.75万"; scaled(123456789) → "1.23亿"; below 10,000 the exact figure.
    """
    _check_count(value, "scaled")
    for size, name in _UNITS:
        if value >= size:
            text = f"{Decimal(str(value)) / size:.{digits}f}"
            return (text.rstrip("0").rstrip(".") if "." in text else text) + name
    return plain(value)


def change(
    now: Real | None,
    before: Real | None,
    unit: str = "",
    *,
    lead: str = "较上年",
    scale: str = "",
    digits: int = 1,
    prefix: str = "",
) -> str:
    """This year against last, in the reports' phrasing; "" when there is nothing to compare.

    change(29, 26, "所") → "较上年增加3所、增长11.5%"; change(3, 5, "份") → "较上年减少2份、下降40%";
    change(424, 424, "人") → "与上年持平". With no previous figure (a first year, a new
    indicator) it says nothing; from a zero base it gives the difference without a rate.
    ``scale`` ("万", "亿") writes the difference in that unit: change(731200, 697530, "元", scale="万")
    → "较上年增加3.367万元、增长4.8%". ``lead=""`` gives the short form for a table column;
    ``prefix`` (say "，") is written before the phrase only when there is one.
    """
    if now is None or before is None:
        return ""
    _check_count(now, "change")
    _check_count(before, "change")
    if now == before:
        return prefix + ("与上年持平" if lead else "持平")
    verb, rate_verb = ("增加", "增长") if now > before else ("减少", "下降")
    if unit == MONEY_UNIT and not scale:  # money by the document's rule: 增加45,230元 or 增加4.52万元
        difference = f"{figure_text(abs(now - before), unit)}{shown_unit(unit)}"
    else:
        difference = f"{plain(abs(now - before), scale)}{unit}"
    phrase = f"{lead}{verb}{difference}"
    if before:  # (a growth rate may pass 100%: 增长150%)
        phrase += f"、{rate_verb}{_percent_text(100 * abs(now - before) / before, digits)}"
    return prefix + phrase
