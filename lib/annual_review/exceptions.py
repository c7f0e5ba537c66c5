"""Errors of our own, each carrying what the user needs to fix the problem."""

from __future__ import annotations


class AnnualReviewError(Exception):
    """Base class: an error the command line reports without a traceback."""

    exit_code = 1


class ConfigError(AnnualReviewError):
    """The report configuration (``report.yml``) is missing or malformed: bad input, as bad data is."""

    exit_code = 2


class DataError(AnnualReviewError):
    """A year's data is missing or does not match its declared table."""

    exit_code = 2

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class NarrativeError(DataError):
    """A narrative file refers to a figure the section did not provide, or is malformed."""


class ChartError(AnnualReviewError):
    """A chart cannot be drawn faithfully (for instance, a glyph missing from every font)."""


class BuildError(AnnualReviewError):
    """A section failed to execute or the report could not be rendered."""
