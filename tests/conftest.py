"""Shared fixtures: the repository's paths, and one build of the 2020 report for all tests that read it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
DATA = REPO / "data"
CONFIG = REPO / "report.yml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The published 2020 report of the district education bureau, as downloaded (page chrome included).
REFERENCE = Path(__file__).resolve().parent / "reference" / "2020-report.txt"


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Run ``python -m annual_review ARGS`` as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "annual_review", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


class _VisibleText(HTMLParser):
    """The text a reader sees: everything outside <head>, <style> and <script>."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("head", "style", "script"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("head", "style", "script"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return "".join(parser.parts)


def squash(text: str) -> str:
    """Text without any white space, for comparing wording whatever the line breaks."""
    return re.sub(r"\s+", "", text)


def plain(text: str) -> str:
    """Wording alone: no white space, full-width punctuation folded to half-width (（一） and (一) alike)."""
    import unicodedata

    return unicodedata.normalize("NFKC", squash(text))


@pytest.fixture(scope="session")
def built_2020(tmp_path_factory):
    """The shipped 2020 report, built once by the command line into a temporary folder, in every format."""
    out = tmp_path_factory.mktemp("outputs")
    result = run_cli("build", "--year", "2020", "--format", "html,pdf,docx", "--output-dir", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = out / "2020" / "report.html"
    return {"out": out, "report": report, "html": report.read_text(encoding="utf-8"), "stdout": result.stdout}


def copy_2020_data(target: Path) -> Path:
    """Copy the shipped data to ``target`` with only 2020's year folder: the published year is then the latest."""
    def others(folder, names):
        return [n for n in names if n.isdigit() and n != "2020"] if Path(folder) == DATA else []

    shutil.copytree(DATA, target, ignore=others)
    return target


def copy_2020_project(root: Path) -> Path:
    """A writable copy of the project's config, notebooks and 2020 data in ``root``, to change or break at will.

    Only 2020, so that its latest year is the published one and the year before it does not exist.
    """
    shutil.copytree(NOTEBOOKS, root / "notebooks")
    copy_2020_data(root / "data")
    shutil.copy(CONFIG, root / "report.yml")
    return root


@pytest.fixture
def project(tmp_path):
    """A writable copy of the 2020 project (see :func:`copy_2020_project`)."""
    return copy_2020_project(tmp_path)


def small_project(tmp_path: Path, sections: list[tuple[str, str, dict]], *, config: str = "") -> Path:
    """A config of fixture notebooks, each showing a one-line narrative ``item<i>.md`` for 2021.

    ``config`` is added to the config's top level (say ``timeout: 5``).
    """
    data = tmp_path / "data"
    (data / "2021" / "narrative").mkdir(parents=True)
    shutil.copytree(FIXTURES, tmp_path / "notebooks", ignore=shutil.ignore_patterns("workbooks"))  # inside the project
    (data / "tables.yml").write_text("tables: {}\n", encoding="utf-8")
    lines = []
    for i, (heading, notebook, parameters) in enumerate(sections, 1):
        (data / "2021" / "narrative" / f"item{i}.md").write_text(f"第{i}项。\n", encoding="utf-8")
        from annual_review.core.parameters import declared_parameters

        known = declared_parameters(FIXTURES / notebook) if (FIXTURES / notebook).is_file() else {}
        given = {**({"section": f"item{i}"} if "section" in known else {}), **parameters}  # only what it declares
        lines.append(f"  - id: item{i}\n    heading: {heading}\n    notebook: {notebook}\n"
                     + (f"    parameters: {json.dumps(given)}\n" if given else ""))
    (tmp_path / "report.yml").write_text(
        f"body: 某局\ntitle: \"{{body}}{{year}}年报告\"\nnotebooks: notebooks\n{config}sections:\n" + "".join(lines),
        encoding="utf-8",
    )
    return tmp_path


# --- waiting for events, never for time -------------------------------------------------------------------------
# A test waits for what it needs (a file, a line, a process gone); the deadline is only a guard against a hang and is
# generous, since CI machines are loaded. Speed is the benchmarks' business (scripts/bench*.py), not the tests'.
HANG = 300  # seconds after which an awaited event is taken never to come


def wait_until(condition, what: str, timeout: float = HANG):
    """Poll ``condition`` until it gives something true; that value. Fails (naming ``what``) after ``timeout``."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


def children(pid: int) -> set[int]:
    """The process ids of ``pid``'s children (a build's kernels)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie is not)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return False


class Lines:
    """A process's output, read line by line on a thread of its own, so that waiting for a line never blocks past
    its deadline (``readline`` alone would)."""

    def __init__(self, stream):
        import queue
        import threading

        self.seen: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = HANG):
        """The first match of ``pattern`` in a line not yet waited past; fails if the output ends or time runs out."""
        import queue
        import re
        import time

        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{pattern!r} not seen:\n" + "".join(self.seen)) from None
            if line is None:
                self._queue.put(None)  # ended: every later wait fails at once too
                raise AssertionError(f"the output ended before {pattern!r}:\n" + "".join(self.seen))
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, launched once per test module (test_browser's flags: no traffic of its own)."""
    from playwright.sync_api import sync_playwright

    from test_browser import CHROMIUM, FLAGS

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()
