"""Chinese numerals as official documents write them (一、二…十一、二十), for headings and narratives."""

from __future__ import annotations

_DIGITS = "零一二三四五六七八九"


def cn_numeral(n: int) -> str:
    """Write a whole number from 0 to 9999 in Chinese characters: 3 → 三, 12 → 十二, 105 → 一百零五."""
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 9999:
        raise ValueError(f"cn_numeral takes a whole number from 0 to 9999, not {n!r}")
    if n < 10:
        return _DIGITS[n]
    if n < 20:  # 十, 十一 … 十九: the leading 一 is not written
        return "十" + (_DIGITS[n - 10] if n > 10 else "")
    out, zero_pending = "", False
    for value, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit, n = divmod(n, value)
        if digit:
            if zero_pending:
                out += "零"
            out += _DIGITS[digit] + name
            zero_pending = False
        elif out:
            zero_pending = True
    return out
