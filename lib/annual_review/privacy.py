"""Personal data must not be published by accident.

Before a report is written as final, its text is scanned for resident identity card
numbers (18 digits with a valid check digit, GB 11643), mainland mobile numbers and
e-mail addresses. Each finding says where it is, so it can be removed at the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ID = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def valid_id_number(number: str) -> bool:
    """Whether an 18-character resident ID number's last character is its GB 11643 check digit."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS))
    return _CHECK[total % 11] == number[17].upper()


@dataclass(frozen=True)
class Finding:
    kind: str
    text: str
    where: str

    def masked(self) -> str:
        keep = 3 if len(self.text) > 8 else 1
        return self.text[:keep] + "*" * (len(self.text) - 2 * keep) + self.text[-keep:]

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} {self.masked()}"


def scan(text: str, where: str) -> list[Finding]:
    """Personal data in ``text``; ``where`` names its place (file and line, or section)."""
    found = [Finding("身份证号码 (resident ID number)", m.group(), where) for m in _ID.finditer(text) if valid_id_number(m.group())]
    found += [Finding("手机号码 (mobile number)", m.group(), where) for m in _MOBILE.finditer(text)]
    found += [Finding("电子邮箱 (e-mail address)", m.group(), where) for m in _EMAIL.finditer(text)]
    return found


def scan_lines(text: str, source: str) -> list[Finding]:
    """Like :func:`scan`, line by line, each finding naming ``source`` and its line."""
    return [f for n, line in enumerate(text.splitlines(), 1) for f in scan(line, f"{source}, line {n}")]
