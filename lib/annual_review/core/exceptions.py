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


class PublicationCutShort(BuildError, OSError):
    """Publishing a build's files stopped part-way (a full disk, a vanished folder): some files are the new ones.

    Still an OSError, for whoever handles those; the journal lets the next build finish the publication.
    """

    exit_code = 1


def plain_os_error(exc: OSError, folder: str | None = None) -> str:
    """An operating-system error in plain words, naming the file (or else ``folder``): never "[Errno 30]"."""
    import errno

    what = {
        errno.ENOSPC: "the disk is full (磁盘空间不足)",
        errno.EDQUOT: "the disk quota is used up (磁盘配额已满)",
        errno.EROFS: "the folder is on a read-only file system (只读文件系统)",
        errno.EACCES: "permission denied (没有权限)",
        errno.EPERM: "operation not permitted (没有权限)",
        errno.ENOENT: "no such file or folder (文件不存在)",
    }.get(exc.errno, exc.strerror or type(exc).__name__)
    where = exc.filename or folder
    return f"{where}: {what}" if where else what
