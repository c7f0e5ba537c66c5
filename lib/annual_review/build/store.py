"""The output folder of a year (``outputs/<year>/``), owned by one build at a time.

Everything a build leaves there passes through this module: the lock that keeps a
second build out, the staging folder where a build prepares its results, the one
atomic writer (also used for fonts, workbooks and new years' files), and the
publication of a build's results as one transaction. A build publishes by writing
a journal that names what moves in and what goes, then doing it; a crash at any
point leaves either the old results or a journal from which the next build
(after taking the lock) finishes the move. Leftovers of killed builds (staging
folders, half-written temporary files) are removed the same way.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..core.exceptions import BuildError
from ..core.files import UMASK, Lock, write_atomic  # noqa: F401 - write_atomic: the store writes through it

LOCK_FILE = ".lock"
JOURNAL = ".publish.json"  # present only while a publication is under way (or was cut short)
STAGING_PREFIX = ".staging-"
TRASH_PREFIX = ".trash-"


def leftover_name(name: str) -> bool:
    """Whether ``name`` in an output folder is what a build leaves only while it runs (staging, trash, a half-written
    file): never a result, removed by the next build."""
    return name.startswith((STAGING_PREFIX, TRASH_PREFIX, ".sections.old-")) or (name.startswith(".")
                                                                                 and name.endswith(".tmp"))


def _move(source: Path, target: Path) -> None:
    """One step of a publication (a rename within the folder): kept apart so tests can cut a publication short."""
    os.replace(source, target)


class OutputFolder:
    """``outputs/<year>/`` while a build holds it: ``with OutputFolder(path) as folder: …``.

    Entering takes the lock (or raises BuildError naming the build that holds it) and
    repairs what an interrupted build left; leaving releases the lock.
    """

    def __init__(self, path: Path, *, log=None):
        self.path = Path(path)
        self.log = log or (lambda line: None)
        self._lock = Lock(self.path / LOCK_FILE, f"{self.path}: another build is writing here ({{holder}}); wait for it "
                                                 "to finish, or build into another --output-dir")
        self._serial = itertools.count()

    def __enter__(self) -> "OutputFolder":
        self._lock.__enter__()
        try:
            self.recover()
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._lock.__exit__(*exc)

    # --- leftovers -----------------------------------------------------------------------------

    def recover(self) -> None:
        """Finish a publication a crash cut short, and remove what killed builds left behind."""
        journal = self.path / JOURNAL
        if journal.exists():
            try:
                record = json.loads(journal.read_text(encoding="utf-8"))
                staging = self.path / record["staging"]
                moves, removals = list(record["move"]), list(record["remove"])
            except (OSError, ValueError, KeyError, TypeError):
                journal.unlink()  # written atomically, so never half there; unreadable means not ours
            else:
                if staging.is_dir():
                    self.log(f"{self.path}: finishing the publication an interrupted build began")
                    self._roll_forward(staging, moves, removals)
                else:
                    journal.unlink()
        for leftover in self.path.iterdir():
            if not leftover_name(leftover.name):
                continue
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    # --- staging and publication ---------------------------------------------------------------

    def staging(self) -> Path:
        """A new, empty folder inside this one, where a build prepares what it will publish."""
        path = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.path))
        path.chmod(0o777 & ~UMASK)
        return path

    def discard(self, staging: Path) -> None:
        """Remove a staging folder a build will not publish (one a cut-short publication still needs stays)."""
        journal = self.path / JOURNAL
        if journal.exists() and staging.name in journal.read_text(encoding="utf-8", errors="replace"):
            return
        shutil.rmtree(staging, ignore_errors=True)

    def publish(self, staging: Path, moves: list[str], removals: list[str] = ()) -> None:
        """Move ``moves`` (names in ``staging``, in order: the record of them last) into the folder and
        delete ``removals`` from it, as one transaction."""
        missing = [name for name in moves if not (staging / name).exists()]
        if missing:
            raise BuildError(f"{staging}: nothing to publish as {missing}")
        record = {"staging": staging.name, "move": list(moves), "remove": [r for r in removals if r not in moves]}
        write_atomic(self.path / JOURNAL, json.dumps(record, ensure_ascii=False))  # the commit point
        try:
            self._roll_forward(staging, record["move"], record["remove"])
        except OSError as exc:  # past the commit point: the old report is partly replaced, and that must be said
            from ..core.exceptions import PublicationCutShort, plain_os_error

            raise PublicationCutShort(
                f"publishing into {self.path} was cut short ({plain_os_error(exc)}): some of its files are this "
                f"build's and some the last one's until the next build finishes the publication from "
                f"{JOURNAL} (发布中断：下次生成时自动完成)") from exc

    def _roll_forward(self, staging: Path, moves: list[str], removals: list[str]) -> None:
        """Do (or finish) a publication; every step can be repeated, so a second attempt completes the first."""
        trash = self.path / f"{TRASH_PREFIX}{os.getpid()}-{next(self._serial)}"
        trash.mkdir(exist_ok=True)
        for name in removals:
            if (self.path / name).exists():
                _move(self.path / name, trash / name)
        for name in moves:
            source, target = staging / name, self.path / name
            if not source.exists():
                continue  # moved in by the attempt this one finishes
            if target.is_dir() and not target.is_symlink():
                _move(target, trash / name)  # a folder cannot be replaced in one rename
            _move(source, target)
        (self.path / JOURNAL).unlink(missing_ok=True)
        shutil.rmtree(trash, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)

    def replace_folder(self, name: str, files: dict[str, Path]) -> Path:
        """Make ``<folder>/<name>/`` hold exactly copies of ``files`` (name → source), replacing it whole."""
        fresh = self.staging()
        for file_name, source in files.items():
            shutil.copy2(source, fresh / file_name)
        self.publish_folder(fresh, name)
        return self.path / name

    def publish_folder(self, fresh: Path, name: str) -> None:
        target = self.path / name
        trash = self.path / f"{TRASH_PREFIX}{os.getpid()}-{next(self._serial)}"
        if target.exists():
            _move(target, trash)
        _move(fresh, target)
        shutil.rmtree(trash, ignore_errors=True)

    def remove(self, name: str) -> None:
        target = self.path / name
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
