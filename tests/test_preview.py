"""`annual-review preview` (issue #14): a real server, a real watcher, real kernels, Debian's Chromium.

One preview of a copy of the 2020 project serves the module; each test sets up what it asserts on. Stopping a
preview (Ctrl-C, SIGTERM) is tests/test_shutdown.py's.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from conftest import HANG, Lines, copy_2020_project, squash
from test_browser import CHROMIUM, FLAGS



class Preview:
    def __init__(self, root: Path, *args: str):
        self.root = root
        self.process = subprocess.Popen([sys.executable, "-m", "annual_review", "preview", "--port", "0", *args], cwd=root,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.output = Lines(self.process.stdout)
        self.url = self.wait_for(r"Preview of .*: (http://\S+/)").group(1)
        self.wait_for(r"Preview updated|Rebuild failed")

    @property
    def lines(self) -> list[str]:
        return self.output.seen

    def wait_for(self, pattern: str):
        return self.output.wait_for(pattern)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = copy_2020_project(tmp_path_factory.mktemp("preview"))
    preview = Preview(root, "--year", "2020")
    yield preview
    if preview.process.poll() is None:  # stopped as a user stops it, so it removes what it made (its kernels' logs)
        preview.process.send_signal(signal.SIGINT)
        try:
            preview.process.wait(timeout=HANG)
        except subprocess.TimeoutExpired:
            preview.process.kill()


@pytest.fixture(scope="module")
def browser(served):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.requests = []
        page.on("request", lambda r: page.requests.append(r.url))
        page.goto(served.url, wait_until="load")
        yield page
        browser.close()


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_page_follows_an_edit_and_keeps_its_scroll_position(served, browser):
    page = browser
    page.evaluate("window.scrollTo(0, 1500)")
    page.wait_for_function("window.scrollY > 1400")
    narrative = served.root / "data" / "2020" / "narrative" / "opening.md"
    _edit(narrative, "现将", "预览中新写的一句。现将")
    page.get_by_text("预览中新写的一句", exact=False).first.wait_for(timeout=HANG * 1000)  # (the page's CSP allows no eval)
    page.wait_for_load_state("load")
    # The reloaded page is put back where the reader was (waited for, not timed: the scroll lands when it lands).
    page.wait_for_function("Math.abs(window.scrollY - 1500) < 40", timeout=HANG * 1000)
    assert "<script" not in (served.root / "outputs" / "2020" / "report.html").read_text(encoding="utf-8")  # only served


def test_a_broken_register_shows_its_error_until_it_is_fixed(served, browser):
    page = browser
    register = served.root / "data" / "2020" / "tutoring_inspections.csv"
    good = register.read_text(encoding="utf-8")
    lines = good.splitlines()
    fields = lines[3].split(",")
    fields[4] = "-2"
    register.write_text("\n".join([*lines[:3], ",".join(fields), *lines[4:]]) + "\n", encoding="utf-8")
    page.wait_for_selector(".ar-preview-error", timeout=HANG * 1000)
    message = page.inner_text(".ar-preview-error")
    assert "tutoring_inspections.csv, row 4, column E「staff_deployed」出动人次: '-2'" in message
    register.write_text(good, encoding="utf-8")
    page.wait_for_selector("main", timeout=HANG * 1000)
    assert page.locator(".ar-preview-error").count() == 0
    assert "累计出动150多人次参与检查" in squash(page.inner_text("main"))  # the register's figure back, as in the 2020 report


def test_nothing_is_requested_but_from_the_preview_server(served, browser):
    origin = served.url.rstrip("/")
    assert browser.requests and all(url.startswith(origin) for url in browser.requests), browser.requests


def test_it_listens_on_the_loopback_address_only(served):
    port = int(served.url.rsplit(":", 1)[1].strip("/"))
    listening = [line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:] if line.split()[3] == "0A"]
    assert f"0100007F:{port:04X}" in listening  # 127.0.0.1
    assert not [a for a in listening if a.endswith(f":{port:04X}") and not a.startswith("0100007F")]


def test_a_second_preview_of_the_same_output_folder_names_the_first(served):
    result = subprocess.run([sys.executable, "-m", "annual_review", "preview", "--port", "0", "--year", "2020"],
                            cwd=served.root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"another preview is serving this output folder (pid {served.process.pid}," in result.stderr


def test_another_address_is_served_only_when_asked_for_with_a_warning(tmp_path):
    import shutil

    from conftest import small_project

    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    shutil.copy(root / "report.yml", root / "report.yml.bak")
    preview = Preview(root, "--host", "0.0.0.0", "--jobs", "1")
    try:
        assert any("warning: serving on 0.0.0.0: anyone who can reach this machine" in line for line in preview.lines)
    finally:
        preview.process.send_signal(signal.SIGTERM)
        assert preview.process.wait(timeout=30) == 0
