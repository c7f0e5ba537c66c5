"""`annual-review preview` (issue #14): a real server, a real watcher, real kernels, Debian's Chromium.

One preview of a copy of the 2020 project serves the module; its last test stops it with
Ctrl-C (SIGINT) and checks that no kernel or server is left.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from conftest import NOTEBOOKS, copy_2020_data
from test_browser import CHROMIUM, FLAGS

CONFIG = Path(__file__).resolve().parents[1] / "report.yml"


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


class Preview:
    def __init__(self, root: Path, *args: str):
        self.root = root
        self.process = subprocess.Popen([sys.executable, "-m", "annual_review", "preview", "--port", "0", *args], cwd=root,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[str] = []
        self.url = self.wait_for(r"Preview of .*: (http://\S+/)", 180).group(1)
        self.wait_for(r"Preview updated|Rebuild failed", 180)

    def wait_for(self, pattern: str, timeout: float):
        deadline = time.monotonic() + timeout  # a guard against a hang only
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError("the preview ended:\n" + "".join(self.lines))
            self.lines.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"{pattern!r} not seen:\n" + "".join(self.lines))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("preview")
    import shutil

    shutil.copytree(NOTEBOOKS, root / "notebooks")
    copy_2020_data(root / "data")
    shutil.copy(CONFIG, root / "report.yml")
    preview = Preview(root, "--year", "2020")
    yield preview
    if preview.process.poll() is None:
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
    page.wait_for_timeout(200)
    narrative = served.root / "data" / "2020" / "narrative" / "opening.md"
    _edit(narrative, "现将", "预览中新写的一句。现将")
    page.get_by_text("预览中新写的一句", exact=False).first.wait_for(timeout=60_000)  # (the page's CSP allows no eval)
    page.wait_for_load_state("load")
    page.wait_for_timeout(100)
    assert abs(page.evaluate("window.scrollY") - 1500) < 40
    assert "<script" not in (served.root / "outputs" / "2020" / "report.html").read_text(encoding="utf-8")  # only served


def test_a_broken_register_shows_its_error_until_it_is_fixed(served, browser):
    page = browser
    register = served.root / "data" / "2020" / "tutoring_inspections.csv"
    good = register.read_text(encoding="utf-8")
    lines = good.splitlines()
    fields = lines[3].split(",")
    fields[4] = "-2"
    register.write_text("\n".join([*lines[:3], ",".join(fields), *lines[4:]]) + "\n", encoding="utf-8")
    page.wait_for_selector(".ar-preview-error", timeout=60_000)
    message = page.inner_text(".ar-preview-error")
    assert "tutoring_inspections.csv, row 4, column E「staff_deployed」出动人次: '-2'" in message
    register.write_text(good, encoding="utf-8")
    page.wait_for_selector("main", timeout=60_000)
    assert page.locator(".ar-preview-error").count() == 0
    assert "预览中新写的一句" in page.inner_text("main")


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


def test_ctrl_c_stops_the_watcher_the_server_and_every_kernel(served):
    kernels = _children(served.process.pid)
    assert kernels, "the preview keeps warm kernels"
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(timeout=30) == 0
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in kernels) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in kernels)
    with pytest.raises(OSError):
        urllib.request.urlopen(served.url, timeout=2)


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
