"""A pre-publication copy check: half-width punctuation among Chinese text, found by a kept library, never rewritten.

Official documents write Chinese with full-width punctuation (，：；（）). Text typed on a
Latin keyboard or pasted from elsewhere brings half-width commas, colons and brackets.
`autocorrect-py <https://github.com/huacnlee/autocorrect>`_ knows the rules; this module
asks it about each line and reports (file, line, the marks) only the punctuation it
would change — not the spaces it would add between Chinese and Latin text, which
Chinese official documents do not use. Nothing is changed: a person decides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

_HALF = ",:;()!?"
_FULL = "，：；（）！？"


@dataclass(frozen=True)
class CopyWarning:
    source: str
    line: int
    marks: str  # the half-width marks to change, in order
    excerpt: str

    def __str__(self) -> str:
        if not self.marks:  # (a text the check could not read)
            return f"{self.source}: {self.excerpt}"
        shown = " ".join(repr(m) for m in self.marks)
        return f"{self.source}, line {self.line}: half-width {shown} among Chinese text (半角标点，应为全角): {self.excerpt}"


def check_text(text: str, source: str) -> list[CopyWarning]:
    """Half-width commas, colons, semicolons, brackets, ! and ? that belong full-width, line by line."""
    from autocorrect_py import lint_for

    warnings = []
    try:
        results = lint_for(text, "text").lines
    except Exception:  # noqa: BLE001 - autocorrect gives up on some long texts ("call limit reached"): advice only
        return [CopyWarning(source, 1, "", "the copy check could not read this text (too long for autocorrect); "
                                           "nothing was checked in it")]
    for result in results:
        old, new = result.old.replace(" ", ""), result.new.replace(" ", "")
        if len(old) != len(new):
            continue  # a change other than punctuation: not ours to judge
        marks = "".join(a for a, b in zip(old, new) if a in _HALF and b == _FULL[_HALF.index(a)])
        if marks:
            excerpt = result.old.strip()
            warnings.append(CopyWarning(source, result.line, marks, excerpt[:40] + ("…" if len(excerpt) > 40 else "")))
    return warnings


def check_year(config, data_dir: Path, year: int) -> list[CopyWarning]:
    """The year's narratives, and every string of the config (title, headings) at its own line."""
    from ..core.paths import narratives, read_narrative, shown

    found = [w for path in narratives(data_dir, year)[0] for w in check_text(read_narrative(path), shown(path))]
    for line, text in config.texts:
        found += [replace(w, line=line) for w in check_text(text, str(config.path))]
    return found


def summary(warnings: list[CopyWarning]) -> str:
    files = len({w.source for w in warnings})
    marks = sum(len(w.marks) for w in warnings)
    return (f"copy check: {marks} half-width punctuation mark(s) among Chinese text on {len(warnings)} line(s) of "
            f"{files} file(s), e.g. {warnings[0]}; `annual-review check` lists them all (nothing was changed)")
