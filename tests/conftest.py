"""Shared fixtures: the repository's paths, and one build of the 2020 report for all tests that read it."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def built_2020(tmp_path_factory):
    """The shipped 2020 report, built once by the command line into a temporary folder."""
    out = tmp_path_factory.mktemp("outputs")
    result = run_cli("build", "--year", "2020", "--output-dir", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    report = out / "2020" / "report.html"
    return {"out": out, "report": report, "html": report.read_text(encoding="utf-8"), "stdout": result.stdout}


def copy_2020_data(target: Path) -> Path:
    """Copy the shipped data to ``target`` with only 2020's year folder: the published year is then the latest."""
    def others(folder, names):
        return [n for n in names if n.isdigit() and n != "2020"] if Path(folder) == DATA else []

    shutil.copytree(DATA, target, ignore=others)
    return target


@pytest.fixture
def project(tmp_path):
    """A writable copy of the project's config, notebooks and 2020 data, to change or break at will.

    Only 2020, so that its latest year is the published one and the year before it does not exist.
    """
    shutil.copytree(NOTEBOOKS, tmp_path / "notebooks")
    copy_2020_data(tmp_path / "data")
    shutil.copy(CONFIG, tmp_path / "report.yml")
    return tmp_path
