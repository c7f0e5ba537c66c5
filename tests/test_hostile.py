"""Faults and hostile input (issue #10): text never runs, nothing hangs, nothing stale, foreign or personal is published.

One test (or one family of cases) per promise of the README's "Safe" section. Each
was checked to fail with the mechanism it covers taken out.
"""

from __future__ import annotations

import errno
import http.server
import json
import re
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from annual_review.build import builder as build_module
from annual_review.apps import cli
from annual_review.build import manifest
from annual_review.build.builder import build
from annual_review.core.config import load_config
from annual_review.core.exceptions import ConfigError, DataError, NarrativeError
from annual_review.notebook.narrative import render_text
from conftest import run_cli, small_project, squash, visible_text, wait_until

try:
    from annual_review.build import store
except ImportError:  # (on a checkout from before the output folder had its own module: those tests fail)
    store = None

VALID_ID = "11010519491231002X"  # GB 11643's worked example


def report_text(out: Path, year: int = 2021) -> str:
    return squash(visible_text((out / str(year) / "report.html").read_text(encoding="utf-8")))


def add_narrative(root: Path, text: str, item: int = 1) -> Path:
    path = root / "data" / "2021" / "narrative" / f"item{item}.md"
    path.write_text(text, encoding="utf-8")
    return path


# --- 1. narrative text never runs code ------------------------------------------------------------

# The escapes Jinja2's sandbox documentation and advisories discuss: globals of a function, the class
# hierarchy, str.format reaching attributes, a template reaching its context, and a value's methods.
ESCAPES = [
    "{{ cycler.__init__.__globals__.os.system('touch {marker}') }}",
    "{{ self.__init__.__globals__.__builtins__.__import__('os').system('touch {marker}') }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ '{0.__class__.__mro__}'.format(year) }}",
    "{{ lipsum.__globals__['os'].system('touch {marker}') }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self._TemplateReference__context.parent }}",
    "{{ year.__class__ }}",
    "{{ figures.pop('year') }}",
    "{{ table.to_csv('{marker}') }}",
    "{{ table | attr('to_csv') }}",
    "{{ table.__class__.__init__.__globals__ }}",
    "{{ table | each('{count.__class__}') }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_a_narrative_cannot_reach_python(tmp_path, template):
    import pandas as pd

    marker = tmp_path / "ran"
    with pytest.raises(NarrativeError) as caught:
        render_text("第一行\n" + template.replace("{marker}", str(marker)),
                    {"year": 2021, "figures": {"year": 2021}, "table": pd.DataFrame({"count": [1]})}, source="x.md")
    assert "x.md" in str(caught.value)
    assert not marker.exists()


def test_a_hostile_narrative_stops_the_build_naming_file_and_line(tmp_path):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    marker = tmp_path / "ran"
    path = add_narrative(root, f"第一行。\n{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}\n")
    result = run_cli("build", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{path}, line 2" in result.stderr and "not allowed in a narrative" in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize("template, message", [
    ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", "took more than 5 s"),
    ("{% for i in range(10000) %}{{ 'x' * 100 }}{% endfor %}", "more than 200,000 characters"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "calls itself"),
])
def test_a_narrative_that_never_ends_is_stopped(template, message):
    with pytest.raises(NarrativeError) as caught:
        render_text(template, {}, source="loop.md")
    assert "loop.md" in str(caught.value) and message in str(caught.value)


# --- 2. a dead or endless section never hangs the build ------------------------------------------

@pytest.mark.parametrize("how, said", [
    ("kill", "the kernel died (killed by signal 9, SIGKILL"),
    ("exit", "the kernel died (it exited with status 3)"),
    ("loop", "timed out after 5 s"),
])
def test_a_section_that_dies_or_never_ends_fails_alone(tmp_path, how, said):
    root = small_project(tmp_path, [("甲", "stuck.ipynb", {"how": how}), ("乙", "narrative.ipynb", {})], config="timeout: 5\n")
    # subprocess's timeout guards against a hang only; the build's own limit is what is tested.
    result = run_cli("build", "--jobs", "1", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"section 'item1' (stuck.ipynb), cell 3: {said}" in result.stderr
    assert "narrative.ipynb" in result.stdout and "ran" in result.stdout.split("narrative.ipynb")[1].split("\n")[0]
    saved = tmp_path / "out" / "2021" / "failed" / "stuck.ipynb"
    assert saved.is_file() and said.split(" (")[0] in saved.read_text(encoding="utf-8")


def test_the_command_line_time_limit_overrides_the_config(tmp_path):
    root = small_project(tmp_path, [("甲", "stuck.ipynb", {"how": "loop"})], config="timeout: 600\n")
    result = run_cli("build", "--timeout", "3", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 1 and "timed out after 3 s" in result.stderr


# --- 3. no section can change another's output ----------------------------------------------------

def _isolation_project(tmp_path: Path, order: list[str], what: str) -> Path:
    notebooks = {"patch": ("补丁", "patcher.ipynb", {"what": what}), "use": ("用", "sensitive.ipynb", {})}
    root = small_project(tmp_path, [notebooks[name] for name in order])
    shown = ('{{ n | more }}；{{ state.get("environment") }}；{{ state.get("folder") }}；{{ state.get("precision") }}；'
             '{{ state.get("path") }}；{{ state.get("files") }}；{{ state.get("more") }}；{{ state.get("weekday") }}。\n')
    for i, name in enumerate(order, 1):
        if name == "use":
            add_narrative(root, shown, item=i)
    return root


@pytest.mark.parametrize("what", ["all", "state"])
def test_a_section_sees_the_same_process_whatever_ran_before_it(tmp_path, what):
    """A section that patches the library, sets options and a resource limit, then one that depends on them: both orders."""
    texts = {}
    for order in (["use", "patch", "use"], ["patch", "use"]):
        root = _isolation_project(tmp_path / "-".join(order), order, what)
        result = run_cli("build", "--jobs", "1", "--format", "html", "--output-dir", str(root / "out"), cwd=root)
        assert result.returncode == 0, result.stderr
        texts["-".join(order)] = report_text(root / "out")
        if what == "all":
            assert "retired: section patcher.ipynb changed" in result.stdout
            assert "a resource limit" in result.stdout and "annual_review.core.numbers.more" in result.stdout
    alone = "1200多；clean；notebooks；6；False"  # and, at the end, the calendar's first weekday: Monday (0)
    first = texts["use-patch-use"]
    assert first.count(alone) == 2  # the section after the patcher sees what the one before it saw
    assert "补丁" in first and alone in texts["patch-use"]
    assert re.findall(r"False；\d+；1200多；(\d)。", first) == ["0", "0"]  # Monday first, as before the patcher ran
    assert "PATCHED" not in first.split("补丁")[1].split("三、")[1]


# --- 4. a stale or corrupt cache is never trusted --------------------------------------------------

@pytest.fixture
def built_small(tmp_path):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {}), ("乙", "narrative.ipynb", {})])
    out = tmp_path / "out"
    result = run_cli("build", "--format", "html", "--output-dir", str(out), cwd=root)
    assert result.returncode == 0, result.stderr
    return root, out


def test_a_truncated_executed_notebook_is_run_again(built_small):
    root, out = built_small
    executed = out / "2021" / "sections" / "narrative.item1.ipynb"
    executed.write_bytes(executed.read_bytes()[:200])
    add_narrative(root, "第一项改过。\n", item=2)  # so the report is rendered again
    result = run_cli("build", "--format", "html", "--output-dir", str(out), cwd=root)
    assert result.returncode == 0, result.stderr
    assert "its executed notebook is not the one recorded" in result.stdout
    assert "第1项。" in report_text(out) and "第一项改过。" in report_text(out)


@pytest.mark.parametrize("content", [b"[]", b"\x89PNG\r\n\x1a\n\x00\x00binary", b'{"sections": []}'])
def test_an_unreadable_manifest_is_no_cache(built_small, content):
    root, out = built_small
    (out / "2021" / "manifest.json").write_bytes(content)
    for args in ([], ["--force"]):
        result = run_cli("build", *args, "--format", "html", "--output-dir", str(out), cwd=root)
        assert result.returncode == 0, result.stderr
    assert "building as if nothing had been built before" in result.stdout or "--force" in result.stdout
    assert json.loads((out / "2021" / "manifest.json").read_text(encoding="utf-8"))["sections"]


def test_leftovers_of_killed_builds_are_removed(built_small):
    root, out = built_small
    for leftover in (".staging-abc", ".trash-1-0"):
        (out / "2021" / leftover / "sections").mkdir(parents=True)
    (out / "2021" / ".report.html.xyz.tmp").write_text("half", encoding="utf-8")
    assert run_cli("build", "--format", "html", "--output-dir", str(out), cwd=root).returncode == 0
    assert sorted(p.name for p in (out / "2021").iterdir() if p.name.startswith(".")) == [".lock"]


def _failing_move(after: int):
    """store._move that fails (as a full disk would) once ``after`` moves have been made."""
    real, count = store._move, {"n": 0}

    def move(source, target):
        count["n"] += 1
        if count["n"] > after:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real(source, target)

    return move


@pytest.mark.parametrize("after", [0, 1, 2, 3])
def test_a_publication_cut_short_is_finished_by_the_next_build(built_small, monkeypatch, after):
    """The sentence a crash leaves half published must never outlive its source (#10's disk-full report)."""
    root, out = built_small
    add_narrative(root, "新的一句。\n")
    monkeypatch.setattr(store, "_move", _failing_move(after))
    with pytest.raises(OSError):
        build(root / "report.yml", root / "data", out, formats=("html",), log=lambda line: None)
    monkeypatch.undo()
    add_narrative(root, "第1项。\n")  # the source goes back to what it was
    lines: list[str] = []
    build(root / "report.yml", root / "data", out, formats=("html",), log=lines.append)
    text = report_text(out)
    assert "第1项。" in text and "新的一句" not in text  # what the sources say now, nothing else
    record = json.loads((out / "2021" / "manifest.json").read_text(encoding="utf-8"))
    assert record["outputs"]["report.html"] == manifest.file_digest(out / "2021" / "report.html")
    assert not [p.name for p in (out / "2021").iterdir() if p.name.startswith((".staging", ".trash", ".publish"))]


def test_the_store_finishes_or_undoes_every_publication(tmp_path, monkeypatch):
    """Without kernels: cut a publication short at every step; the next holder of the folder sees old or new, whole."""
    def state(folder: Path) -> dict:
        return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*"))
                if p.is_file() and not p.name.startswith(".")}

    old = {"sections/a.ipynb": "old a", "report.html": "old report", "report.pdf": "old pdf", "manifest.json": "old record"}
    new = {"sections/a.ipynb": "new a", "report.html": "new report", "manifest.json": "new record"}
    for after in range(8):
        folder = tmp_path / f"cut-{after}"
        for name, text in old.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
        with store.OutputFolder(folder) as held:
            staging = held.staging()
            for name, text in new.items():
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                (staging / name).write_text(text)
            monkeypatch.setattr(store, "_move", _failing_move(after))
            try:
                held.publish(staging, ["sections", "report.html", "manifest.json"], ["report.pdf"])
                finished = True
            except OSError:
                finished = False
            monkeypatch.undo()
        with store.OutputFolder(folder):
            pass  # the next build takes the folder: it repairs
        assert state(folder) == new, (after, finished, state(folder))


def test_an_error_is_not_hidden_by_the_index(tmp_path, monkeypatch):
    root = small_project(tmp_path, [("甲", "broken.ipynb", {})])
    monkeypatch.setattr(build_module, "write_index", lambda *a: (_ for _ in ()).throw(OSError(errno.EIO, "index")))
    with pytest.raises(Exception) as caught:
        build(root / "report.yml", root / "data", tmp_path / "out", formats=("html",), log=lambda line: None)
    assert "section(s) failed" in str(caught.value)


# --- 5. personal data is found wherever it is published --------------------------------------------

def _contacts(root: Path, name: str) -> None:
    (root / "data" / "tables.yml").write_text(
        "tables:\n  contacts:\n    columns:\n      name: {type: text, label: 名称}\n"
        "      count: {type: integer, label: 次数}\n", encoding="utf-8")
    (root / "data" / "2021" / "contacts.csv").write_text(f"name,count\n{name},3\n", encoding="utf-8")


@pytest.mark.parametrize("place, name, where", [
    ("chart label", "联系人13812345678", "chart"),
    ("full-width digits", "联系电话１３８１２３４５６７８", "chart"),
    ("ideographic spaces", "电话138\u30001234\u30005678", "chart"),
    ("no-break spaces and dots", "电话138\u00a01234.5678", "chart"),
    ("ID number with hyphens", "证件110105-19491231-002X", "chart"),
])
def test_personal_data_in_a_chart_is_refused(tmp_path, place, name, where):
    root = small_project(tmp_path, [("甲", "chart.ipynb", {})])
    _contacts(root, name)
    result = run_cli("build", "--format", "html,pdf,docx", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 2, result.stderr
    assert "Personal data found" in result.stderr and f"section 'item1' (chart.ipynb), {where}" in result.stderr
    assert not list((tmp_path / "out" / "2021").glob("report.*"))  # neither HTML nor PDF nor Word


def test_personal_data_in_the_config_is_refused_naming_the_line(tmp_path):
    root = small_project(tmp_path, [("甲（联系电话 138 1234 5678）", "narrative.ipynb", {})])
    result = run_cli("build", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    line = next(n for n, text in enumerate((root / "report.yml").read_text(encoding="utf-8").splitlines(), 1) if "138" in text)
    assert result.returncode == 2 and f"report.yml, line {line}: 手机号码" in result.stderr
    assert not (tmp_path / "out" / "2021" / "report.html").exists()


def test_personal_data_is_looked_for_in_every_published_format():
    from annual_review.build.pdf import pdf_bytes
    from annual_review.build.privacy import scan_docx, scan_html, scan_pdf, scan_published
    from annual_review.build.word import docx_bytes

    html = ('<html><body><h1>报告</h1><main><section data-section="loans"><figure class="ar-table"><table><tr>'
            '<td>１１０１０５\u300019491231\u3000002X</td><td>电话１３８ １２３４ ５６７８</td></tr></table></figure>'
            '</section></main></body></html>')
    found = scan_html(html, "report.html")
    assert [f.kind[:4] for f in found] == ["身份证号", "手机号码"]
    assert all(str(f).startswith("report.html: section 'loans', table cell:") for f in found)
    pdf, word = pdf_bytes(html), docx_bytes(html)
    assert "手机号码" in str(scan_pdf(pdf)) and "page 1" in str(scan_pdf(pdf))
    assert len(scan_docx(word)) == 2 and "table 1, row 1" in str(scan_docx(word)[0])
    assert scan_published({"report.html": html.encode(), "report.pdf": pdf, "report.docx": word}) == found


# --- 6. the report fetches nothing from the network ----------------------------------------------

@pytest.fixture
def server():
    """A local HTTP server that counts the requests it gets."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()


def test_a_remote_image_in_a_narrative_is_refused(tmp_path, server):
    url, requests = server
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    path = add_narrative(root, f"正文。\n\n![图]({url}/tracker.png)\n")
    result = run_cli("build", "--format", "html,pdf", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 1 and f"{path}, line 3: a picture" in result.stderr
    assert requests == []


def test_weasyprint_fetches_nothing_from_outside(tmp_path, server):
    from annual_review.core.exceptions import BuildError
    from annual_review.build.pdf import pdf_bytes

    url, requests = server
    page = (f'<html><head><link rel="stylesheet" href="{url}/style.css"><style>@import url("{url}/more.css");'
            f'body {{ background: url("{url}/bg.png") }}</style></head><body><img src="{url}/x.png">'
            f'<img src="file:///etc/hostname"></body></html>')
    with pytest.raises(BuildError, match="not fetched"):
        pdf_bytes(page, base=tmp_path)
    assert requests == []


def test_the_browser_fetches_nothing_even_if_a_remote_address_slipped_in(tmp_path, server):
    from playwright.sync_api import sync_playwright

    from test_browser import CHROMIUM, FLAGS

    url, requests = server
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    assert run_cli("build", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root).returncode == 0
    report = tmp_path / "out" / "2021" / "report.html"
    page_html = report.read_text(encoding="utf-8").replace(
        "</main>", f'<img src="{url}/pixel.png"><link rel="stylesheet" href="{url}/x.css"><script src="{url}/x.js"></script></main>')
    report.write_text(page_html, encoding="utf-8")
    index = tmp_path / "out" / "index.html"
    index.write_text(index.read_text(encoding="utf-8").replace("</body>", f'<img src="{url}/i.png"></body>'), encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page()
        for target in (report, index):
            page.goto(target.as_uri(), wait_until="networkidle")  # every request the page would make, made
        browser.close()
    assert requests == []


# --- 7. config values cannot break out of the page -----------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("body_font", '仿宋"; } </style><script>document.title="pwned"</script><style> x { a: "'),
    ("title_size", "22pt; background: url(http://example.com/x)"),
    ("page", "A4 } body { display: none"),
    ("heading_fonts", '["黑体", "</style><script>alert(1)</script>"]'),
])
def test_document_settings_are_checked_before_they_reach_the_page(tmp_path, key, value):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})], config=f"document:\n  {key}: {json.dumps(value) if key != 'heading_fonts' else value}\n")
    result = run_cli("build", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 2 and f"document.{key}" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "2021" / "report.html").exists()


# --- 8. paths stay in their folders ------------------------------------------------------------------

def test_a_notebook_outside_the_notebooks_folder_is_refused_unread(tmp_path):
    root = small_project(tmp_path, [("甲", "../../../../../../../../etc/passwd", {})])
    result = run_cli("build", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 2 and "is outside the notebooks folder" in result.stderr
    assert "root:" not in result.stderr + result.stdout


@pytest.mark.parametrize("file", ["../../../etc/hostname", "/etc/hostname", "sub/../../x.csv"])
def test_a_table_file_outside_the_year_folder_is_refused(tmp_path, file):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    (root / "data" / "tables.yml").write_text(f"tables:\n  t:\n    file: {file}\n    columns: {{a: {{type: text}}}}\n", encoding="utf-8")
    result = run_cli("validate", "--data-dir", str(root / "data"), "--year", "2021")
    assert result.returncode == 2 and "must be a file name in the year's folder" in result.stderr


@pytest.mark.parametrize("what", ["table", "narrative"])
def test_a_link_out_of_the_year_folder_is_not_read(tmp_path, what):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    secret = tmp_path / "secret.txt"
    secret.write_text("a\n机密内容\n", encoding="utf-8")
    if what == "table":
        (root / "data" / "tables.yml").write_text("tables:\n  t:\n    columns: {a: {type: text}}\n", encoding="utf-8")
        (root / "data" / "2021" / "t.csv").symlink_to(secret)
    else:
        (root / "data" / "2021" / "narrative" / "item1.md").unlink()
        (root / "data" / "2021" / "narrative" / "item1.md").symlink_to(secret)
    result = run_cli("build", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode != 0 and "a link to a file outside" in result.stderr
    assert "机密内容" not in result.stdout + result.stderr
    assert not (tmp_path / "out" / "2021" / "report.html").exists()


# --- 9. every failure is a plain message, never a traceback or a false claim -------------------------

@pytest.mark.parametrize("code, said", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only file system")])
def test_a_full_disk_or_read_only_folder_is_said_plainly(tmp_path, monkeypatch, capsys, code, said):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    out = tmp_path / "out"
    assert cli.main(["build", "--config", str(root / "report.yml"), "--data-dir", str(root / "data"),
                     "--output-dir", str(out), "--format", "html"]) == 0
    good = (out / "2021" / "report.html").read_bytes()
    add_narrative(root, "改过。\n")

    def refuse(path, content):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(store, "write_atomic", refuse)
    capsys.readouterr()
    assert cli.main(["build", "--config", str(root / "report.yml"), "--data-dir", str(root / "data"),
                     "--output-dir", str(out), "--format", "html"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("annual-review build: error: ") and said in err and "Traceback" not in err
    assert (out / "2021" / "report.html").read_bytes() == good


def test_a_notebook_that_is_not_a_notebook_is_not_claimed_saved(tmp_path):
    root = small_project(tmp_path, [("甲", "not-a-notebook.ipynb", {})])
    config = root / "report.yml"
    (tmp_path / "nbs").mkdir()
    (tmp_path / "nbs" / "not-a-notebook.ipynb").write_text("this is not JSON", encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8").replace("notebooks: notebooks", "notebooks: nbs"),
                      encoding="utf-8")
    result = run_cli("build", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "nothing was saved" in result.stderr and "saved:" not in result.stderr


BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x, x]"]
                 + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
                    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]"
                    for i in range(8)])


@pytest.mark.parametrize("where", ["report.yml", "tables.yml"])
def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path, where):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    path = root / "report.yml" if where == "report.yml" else root / "data" / "tables.yml"
    path.write_text(path.read_text(encoding="utf-8") + "\nbomb:\n  " + BOMB.replace("\n", "\n  ") + "\n"
                    if where == "report.yml" else "tables: {}\nbomb:\n  " + BOMB.replace("\n", "\n  ") + "\n", encoding="utf-8")
    result = run_cli("build", "--format", "html", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{where}: refused: its aliases" in result.stderr  # refused as read, before any alias is expanded
    from annual_review.registers.schemas import declarations

    with pytest.raises((ConfigError, DataError), match="refused: its aliases"):
        load_config(root / "report.yml") if where == "report.yml" else declarations(root / "data")


# --- the promises whose tests did not fail when their mechanism was taken out ----------------------

def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    """Atomic writes: a write stopped half-way (Ctrl-C, a full disk) never leaves half a file under the name."""
    target = tmp_path / "report.html"
    target.write_text("the last good report", encoding="utf-8")
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(data[: len(data) // 2])
            self.handle.flush()
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
    with pytest.raises(KeyboardInterrupt):
        store.write_atomic(target, "the new report " * 1000)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "the last good report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_years_built_together_run_on_the_same_warm_kernel(tmp_path):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {}), ("乙", "narrative.ipynb", {})])
    shutil.copytree(root / "data" / "2021", root / "data" / "2022")
    out = tmp_path / "out"
    result = run_cli("build", "--all", "--jobs", "1", "--format", "html", "--output-dir", str(out), cwd=root)
    assert result.returncode == 0, result.stderr
    kernels = {year: {s["kernel"] for s in json.loads((out / year / "manifest.json").read_text(encoding="utf-8"))["sections"].values()}
               for year in ("2021", "2022")}
    assert len(kernels["2021"]) == 1 and kernels["2021"] == kernels["2022"] and 0 not in kernels["2021"]


# === Issue #20: trust, second pass ================================================================

def build_html(root: Path, out: Path, *args: str) -> subprocess.CompletedProcess:
    return run_cli("build", *args, "--format", "html", "--output-dir", str(out), cwd=root)


# --- 20.1 config is data --------------------------------------------------------------------------

@pytest.mark.parametrize("parameters, said", [
    ({"x = 1\nimport os; os.system('touch {marker}') #": 1}, "is not a name a notebook can declare"),
    ({"__import__('os').system('touch {marker}')": 1}, "is not a name a notebook can declare"),
    ({"sectoin": "item1"}, "narrative.ipynb declares no such parameter"),
    ({"section": 5}, "parameter 'section' must be a str"),
    ({"section": {"a": [1, {"b": "touch {marker}"}]}}, "parameter 'section' must be a str"),
])
def test_a_section_parameter_is_a_declared_name_given_a_value_of_its_type(tmp_path, parameters, said):
    marker = tmp_path / "ran"
    given = {k.replace("{marker}", str(marker)): v for k, v in parameters.items()}
    root = small_project(tmp_path, [("甲", "narrative.ipynb", given)])
    result = build_html(root, tmp_path / "out")
    assert result.returncode == 2 and said in result.stderr and "Traceback" not in result.stderr
    assert re.search(r"report\.yml, line \d+: ", result.stderr)
    assert not marker.exists() and not (tmp_path / "out" / "2021").exists()


@pytest.mark.parametrize("how", ["path", "link"])
def test_notebooks_outside_the_project_run_only_from_a_folder_the_builder_trusts(tmp_path, how):
    root = small_project(tmp_path / "project", [("甲", "narrative.ipynb", {})])
    outside = tmp_path / "outside"
    shutil.move(root / "notebooks", outside)
    config = root / "report.yml"
    if how == "path":
        config.write_text(config.read_text(encoding="utf-8").replace("notebooks: notebooks", "notebooks: ../outside"),
                          encoding="utf-8")
    else:
        (root / "notebooks").symlink_to(outside)
    refused = build_html(root, tmp_path / "out")
    assert refused.returncode == 2 and "is outside the project" in refused.stderr and "--trust-folder" in refused.stderr
    assert not (tmp_path / "out" / "2021").exists()
    trusted = build_html(root, tmp_path / "out", "--trust-folder", str(outside))
    assert trusted.returncode == 0, trusted.stderr
    assert "第1项。" in report_text(tmp_path / "out")


# --- 20.2 every file a section reads is tracked ----------------------------------------------------

def test_a_file_a_notebook_reads_with_pandas_is_tracked(tmp_path):
    root = small_project(tmp_path, [("甲", "reader.ipynb", {})])
    extra = root / "data" / "2021" / "extra.csv"
    extra.write_text("项目,数量\n甲,111\n", encoding="utf-8")
    out = tmp_path / "out"
    first = build_html(root, out)
    assert first.returncode == 0, first.stderr
    assert "111" in report_text(out) and "not read" not in first.stdout
    extra.write_text("项目,数量\n甲,2222\n", encoding="utf-8")
    second = build_html(root, out)
    assert second.returncode == 0, second.stderr
    assert "up to date" not in second.stdout and "not read" not in second.stdout
    assert "2,222" in report_text(out) or "2222" in report_text(out)
    assert "111" not in report_text(out)


def test_a_file_read_outside_the_project_is_said(tmp_path):
    elsewhere = (tmp_path / "elsewhere.csv").resolve()
    elsewhere.write_text("项目,数量\n甲,7\n", encoding="utf-8")
    root = small_project(tmp_path / "project", [("甲", "reader.ipynb", {"name": "../../../elsewhere.csv"})])
    result = build_html(root, tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert f"section 'item1' read {elsewhere}, outside the project and its data" in result.stdout


# --- 20.3 personal data wherever it is published, however it is written -----------------------------

def test_personal_data_split_over_lines_is_refused_before_publishing(tmp_path):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    path = add_narrative(root, f"第一行。\n证件号{VALID_ID[:10]}\n{VALID_ID[10:]}，已核实。\n")
    result = run_cli("build", "--format", "html,docx", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{path.relative_to(root)}, line 2: 身份证号码" in result.stderr
    assert not list((tmp_path / "out" / "2021").glob("report.*"))


@pytest.mark.parametrize("text, kind, line", [
    (f"证件号{VALID_ID[:10]}\n{VALID_ID[10:]}，已核实。\n", "身份证号", 2),
    ("联系电话138\r\n1234 5678。\n", "手机号码", 2),
    ("联系电话138**1234**5678。\n", "手机号码", 2),
    ("联系电话 *138* 1234 `5678`。\n", "手机号码", 2),
    ("联系电话 138<span>1234</span>\n5678。\n", "手机号码", 2),
])
def test_personal_data_is_found_as_a_reader_reads_the_narrative(text, kind, line):
    from annual_review.build.privacy import scan_html, scan_lines
    from annual_review.notebook.narrative import to_html

    found = scan_lines("第一行。\n" + text, "item1.md")
    assert [f.kind[:4] for f in found] == [kind] and str(found[0]).startswith(f"item1.md, line {line}: ")
    if "<span>" not in text:  # (the page shows a tag as text: no number there)
        assert [f.kind[:4] for f in scan_html(to_html(text), "report.html")] == [kind]


@pytest.mark.parametrize("where", ["markdown cell", "printed output"])
def test_personal_data_in_an_executed_notebook_is_refused(tmp_path, where):
    root = small_project(tmp_path, [("甲", "talkative.ipynb", {})])
    said = "核对完毕。" if where == "markdown cell" else "核对：联系人电话 13812345678"
    (root / "data" / "2021" / "notes.txt").write_text(said, encoding="utf-8")  # what the section prints
    if where == "markdown cell":
        notebook = root / "notebooks" / "talkative.ipynb"
        cells = json.loads(notebook.read_text(encoding="utf-8"))
        cells["cells"][0]["source"].append(f"\n\n联系人身份证号 {VALID_ID}")
        notebook.write_text(json.dumps(cells, ensure_ascii=False), encoding="utf-8")
    result = build_html(root, tmp_path / "out")
    assert result.returncode == 2 and "Personal data found" in result.stderr
    assert re.search(rf"sections/talkative.ipynb, cell {1 if where == 'markdown cell' else 4}\b", result.stderr)
    assert not (tmp_path / "out" / "2021" / "sections").exists()


def test_personal_data_in_document_properties_and_file_names_is_found():
    import io

    import docx

    from annual_review.build.privacy import scan_docx, scan_published

    document = docx.Document()
    document.add_paragraph("正文")
    document.core_properties.author = f"经办人 {VALID_ID}"
    buffer = io.BytesIO()
    document.save(buffer)
    assert [f.kind[:4] for f in scan_docx(buffer.getvalue())] == ["身份证号"]
    assert "report.docx" in str(scan_docx(buffer.getvalue())[0])
    named = scan_published({"13812345678.ipynb": b"{}"})
    assert len(named) == 1 and "the file's name" in str(named[0])


@pytest.mark.parametrize("command", ["build", "check"])
def test_a_narrative_linked_outside_the_project_is_neither_read_nor_echoed(tmp_path, command):
    root = small_project(tmp_path / "project", [("甲", "narrative.ipynb", {})])
    secret = tmp_path / "secret.md"
    secret.write_text("机密内容：不应出现。\n", encoding="utf-8")
    narrative = root / "data" / "2021" / "narrative" / "item1.md"
    narrative.unlink()
    narrative.symlink_to(secret)
    args = ["--format", "html", "--output-dir", str(tmp_path / "out")] if command == "build" else []
    result = run_cli(command, *args, cwd=root)
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "item1.md, line 1: a link to a file outside the narrative folder" in said
    assert "机密内容" not in said and not (tmp_path / "out").exists()


# --- 20.4 config strings and narratives cannot make markup ----------------------------------------

@pytest.mark.parametrize("section_id", ['kf"><style>main section{display:none}</style>', "Leaders_Duty", "a b", "-x"])
def test_a_section_id_is_a_slug_or_refused(tmp_path, section_id):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    config = root / "report.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("id: item1", f"id: {json.dumps(section_id)}"),
                      encoding="utf-8")
    result = build_html(root, tmp_path / "out")
    assert result.returncode == 2 and "must be lower-case letters, digits and hyphens" in result.stderr
    assert re.search(r"report\.yml, line 5: sections item 1: id ", result.stderr)  # the line of "- id:"
    assert not (tmp_path / "out" / "2021").exists()


@pytest.mark.parametrize("text, line", [
    ("正文。\n\n![图][r]\n\n[r]: //host/x\n", 3),
    ("正文。\n见[此][r]。\n\n[r]: //host/x\n", 4),
    ("正文。\n见 ht{# 注释 #}tp://host/x 。\n", 2),
    ("正文。\n!{# 注释 #}[图](//host/x)\n", 2),
    ("正文。\n见 <https://host/x>。\n", 2),
    ("正文。\n<img src=\"//host/x\">\n", 2),
    ("正文。\n<a href='data:text/html,x'>点</a>\n", 2),
    ("正文。\n{{ '![图](//host/x)' }}\n", 2),
    ("正文。\n{{ '![图][r]' }}\n\n[r]: //host/x\n", 2),
])
def test_every_way_to_a_picture_or_link_in_a_narrative_is_refused(text, line):
    with pytest.raises(NarrativeError) as caught:
        render_text(text, {}, source="x.md")
    assert f"x.md, line {line}" in str(caught.value)


def test_a_picture_refused_by_markdown_is_never_fetched(tmp_path, server):
    url, requests = server
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    add_narrative(root, f"正文。\n\n!{{# #}}[图]({url[5:]}/tracker.png)\n")
    result = run_cli("build", "--format", "html,pdf", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 1 and "a picture" in result.stderr
    assert requests == [] and not (tmp_path / "out" / "2021" / "report.html").exists()


# --- 20.5 bounded resources ------------------------------------------------------------------------

def _render_with_little_memory(template: str, megabytes: int = 600) -> subprocess.CompletedProcess:
    """Render ``template`` in a process whose address space is capped: a narrative that allocates first fails there
    with MemoryError (or is killed) instead of the narrative message."""
    code = ("import resource, sys\n"
            "import pandas as pd\n"
            "from annual_review.notebook.narrative import render_text\n"
            "from annual_review.core.exceptions import NarrativeError\n"
            f"resource.setrlimit(resource.RLIMIT_AS, ({megabytes} << 20, {megabytes} << 20))\n"
            "try:\n"
            "    render_text(sys.stdin.read(), {'table': pd.DataFrame({'count': [1, 2]})}, source='x.md')\n"
            "except NarrativeError as exc:\n"
            "    print(exc)\n")
    return subprocess.run([sys.executable, "-c", code], input=template, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("template, said", [
    ("{% set a = 'xx' %}\n" + "{% set a = a ~ a %}" * 29 + "\n{{ a[:2] }}", "joining texts of more than 200,000 characters"),
    ("{% set a = 'xx' %}\n" + "{% set a = a + a %}" * 29 + "\n{{ a[:2] }}", "joining texts of more than 200,000 characters"),
    ("{% set a = ['xx'] %}\n" + "{% set a = a + a %}" * 29 + "\n{{ a[:2] }}", "joining texts of more than 200,000 characters"),
    ("{% set a = ['xx'] %}\n" + "{% set a = a * 2 %}" * 29 + "\n{{ a[:2] }}", "repeating a text"),
    ("正文\n{{ ('x' * 150000) ~ ('x' * 150000) }}\n", "joining texts of more than 200,000 characters"),
    ("正文\n{{ '%100000000d' % 1 }}\n", "wider than 300 characters"),
    ("正文\n{{ '%.100000000f' % 1.5 }}\n", "wider than 300 characters"),
    ("正文\n{{ '%*d' % (100000000, 1) }}\n", "wider than 300 characters"),
    ("正文\n{{ table | each('{count:100000000d}') }}\n", "wider than 300 characters"),
    ("正文\n{{ table | each('{count:{count}}') }}\n", "each"),
    ("{{1}}" * 6_000, "6,000 placeholders"),  # (150,000 took half a minute and 1.8 GB to compile)
    ("x" * 150_000 + "{{ x }}", "150,007 characters; a narrative holds at most 100,000"),
])
def test_a_narrative_is_refused_before_it_takes_the_memory(template, said):
    result = _render_with_little_memory(template)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "x.md" in result.stdout and said in result.stdout, result.stdout


def test_a_section_past_its_memory_limit_is_named(tmp_path):
    root = small_project(tmp_path, [("甲", "hungry.ipynb", {"megabytes": 2048}), ("乙", "narrative.ipynb", {})],
                         config="memory: 768MB\n")
    result = build_html(root, tmp_path / "out")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "section 'item1' (hungry.ipynb)" in result.stderr
    assert "needed more memory than its kernel may take (768 MB; memory: in the config)" in result.stderr
    assert "narrative.ipynb" in result.stdout and "ran" in result.stdout.split("narrative.ipynb")[1].split("\n")[0]


# --- 20.6 the cache is untrusted input -------------------------------------------------------------

def _poison(out: Path, change) -> None:
    path = out / "2021" / "manifest.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    change(record)
    path.write_text(json.dumps(record), encoding="utf-8")


def test_a_recorded_input_that_is_not_a_project_file_is_never_opened(built_small):
    """A pipe (whose read waits for ever), a device (whose read never ends) and a file outside the project, named as
    inputs by a record someone wrote: the build decides without opening them, and runs the sections again."""
    root, out = built_small
    pipe = root / "data" / "2021" / "pipe"
    os.mkfifo(pipe)

    def change(record):
        first, second = record["sections"].values()
        first["inputs"][str(pipe)] = "0" * 64
        second["inputs"].update({"/dev/zero": "0" * 64, "/etc/hostname": "0" * 64})

    _poison(out, change)
    # A hang would stop here (subprocess's timeout, as a guard only); the build must decide without opening them.
    result = subprocess.run([sys.executable, "-m", "annual_review", "build", "--format", "html", "--output-dir", str(out)],
                            cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert len(re.findall(r"narrative\.item\d\.ipynb +ran", result.stdout)) == 2  # neither record trusted


_GOOD_RECORD = {"sections": {"item1": {"key": "k", "inputs": {"data/2021/a.csv": "d"}, "seconds": 1.5, "kernel": 7}},
                "outputs": {"report.html": "d"}, "tables_with_rows": ["t"], "earlier_data": {"2020": "d"}}


@pytest.mark.parametrize("where, field, value", [
    ("", "tables_with_rows", 5), ("", "earlier_data", []), ("", "outputs", {"report.html": 3}), ("", "sections", "all"),
    ("item1", "seconds", "fast"), ("item1", "inputs", ["x"]), ("item1", "kernel", "7"), ("", "tables_with_rows", [1]),
])
def test_a_manifest_of_the_wrong_shape_is_no_cache_with_a_warning(tmp_path, where, field, value):
    record = json.loads(json.dumps(_GOOD_RECORD))
    (record["sections"][where] if where else record)[field] = value
    (tmp_path / "manifest.json").write_text(json.dumps(record), encoding="utf-8")
    said: list[str] = []
    assert manifest.BuildRecord.load(tmp_path, warn=said.append) == manifest.BuildRecord()  # no record at all
    assert len(said) == 1 and "manifest.json is not a build record" in said[0] and f"'{field}'" in said[0]
    (tmp_path / "manifest.json").write_text(json.dumps(_GOOD_RECORD), encoding="utf-8")
    good = manifest.BuildRecord.load(tmp_path, warn=said.append)  # (the good one is read, typed)
    assert len(said) == 1 and good.outputs == {"report.html": "d"} and good.earlier_data == {"2020": "d"}
    item = good.section("item1")
    assert (item.key, item.seconds, item.kernel, item.inputs) == ("k", 1.5, 7, {"data/2021/a.csv": "d"})
    assert good.tables_with_rows == ["t"] and good.section("item2") is None


def test_a_build_after_a_manifest_of_the_wrong_shape_rebuilds_and_replaces_it(built_small):
    root, out = built_small
    _poison(out, lambda record: record.update({"earlier_data": []}))
    result = build_html(root, out)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "manifest.json is not a build record ('earlier_data'" in result.stdout
    assert len(re.findall(r"narrative\.item\d\.ipynb +ran", result.stdout)) == 2
    assert "up to date" in build_html(root, out).stdout  # the record was replaced: later builds use it


# --- 20.7 plain, true messages -----------------------------------------------------------------------

@pytest.mark.parametrize("command", ["build", "check"])
def test_a_narrative_too_large_is_refused_in_words(tmp_path, command):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    path = add_narrative(root, "第一行，" + "甲乙丙丁,戊己庚辛。" * 12_000 + "\n")  # 336 KB on one line
    args = ["--format", "html", "--output-dir", str(tmp_path / "out")] if command == "build" else []
    result = run_cli(command, *args, cwd=root)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"{path.relative_to(root)}: 336,013 bytes, more than a narrative holds" in result.stderr
    assert "甲乙丙丁" not in result.stderr


@pytest.mark.parametrize("template, line, said", [
    ("第一行\n{{ 5 | each('{x}') }}\n", 2, "each"),
    ("第一行\n{{ 'abc' | each('{x}') }}\n", 2, "each"),
    ("\n" * 8 + "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}\n" + "正文\n" * 10,
     9, "took more than 5 s"),
])
def test_a_narrative_error_names_the_line_it_is_on(template, line, said):
    with pytest.raises(NarrativeError) as caught:
        render_text(template, {}, source="x.md")
    assert f"x.md, line {line}" in str(caught.value) and said in str(caught.value)


@pytest.mark.parametrize("code, said", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only file system")])
def test_an_os_error_without_a_file_names_the_output_folder(tmp_path, monkeypatch, capsys, code, said):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    out = tmp_path / "out"

    def refuse(path, content):
        raise OSError(code, os.strerror(code))  # as shutil and the kernel's pipes raise it: no file named

    monkeypatch.setattr(store, "write_atomic", refuse)
    assert cli.main(["build", "--config", str(root / "report.yml"), "--data-dir", str(root / "data"),
                     "--output-dir", str(out), "--format", "html"]) == 1
    err = capsys.readouterr().err
    assert said in err and str(out) in err and "[Errno" not in err and "Traceback" not in err


def test_a_publication_cut_short_is_not_called_kept(built_small, monkeypatch, capsys):
    root, out = built_small
    add_narrative(root, "新的一句。\n")
    monkeypatch.setattr(store, "_move", _failing_move(1))
    assert cli.main(["build", "--config", str(root / "report.yml"), "--data-dir", str(root / "data"),
                     "--output-dir", str(out), "--format", "html"]) == 1
    err = capsys.readouterr().err
    assert "was cut short" in err and "the disk is full" in err and "next build" in err
    assert "left as it was" not in err and "kept" not in err


def test_each_problem_of_the_table_declarations_is_said_once(tmp_path):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    shutil.copytree(root / "data" / "2021", root / "data" / "2020")  # (declarations are checked with each year)
    (root / "data" / "tables.yml").write_text(
        "tables:\n  t:\n    columns:\n      a: {type: txet}\n      b: {type: integer, minimum: many}\n", encoding="utf-8")
    result = build_html(root, tmp_path / "out")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    said = [line for line in result.stderr.splitlines() if "tables.yml" in line]
    assert said and len(said) == len(set(said)) and any("txet" in line for line in said)
    for problem in ("type 'txet' is not one of", "unknown key 'minimum'"):
        assert sum(problem in line for line in result.stderr.splitlines()) == 1, problem


# --- 20.9 inputs fixed before they are used; a partial total says so ----------------------------------

def _wait_for(path: Path, process: subprocess.Popen) -> None:
    """Until ``path`` exists (an event the section makes), or the process has ended."""
    if not wait_until(lambda: path.exists() or process.poll() is not None, f"{path.name} appears") or not path.exists():
        raise AssertionError(f"the build ended before {path.name} appeared: {process.communicate()}")


def test_a_file_changed_while_its_section_runs_runs_the_section_again(tmp_path):
    started, go = tmp_path / "started", tmp_path / "go"
    root = small_project(tmp_path / "project", [("甲", "midrun.ipynb", {"started": str(started), "go": str(go)})])
    extra = root / "data" / "2021" / "extra.csv"
    extra.write_text("项目,数量\n甲,111\n", encoding="utf-8")
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "annual_review", "build", "--format", "html",
                                "--output-dir", str(out)], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(started, process)  # the section has read the file
    extra.write_text("项目,数量\n甲,2222\n", encoding="utf-8")  # an editor saves again
    go.touch()
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr
    assert "extra.csv changed while it ran; running it again" in stdout
    text = report_text(out)
    assert "2222" in text.replace(",", "") and "111" not in text
    again = build_html(root, out)
    assert "up to date" in again.stdout  # recorded with what it read the second time: nothing left to do


# (A total over bodies that leaves one out: tests/test_workspace.py, which builds the workspace once for all.)


def test_a_register_saved_after_the_data_check_is_checked_by_its_section(tmp_path):
    # A build's kernels load tables without checking their schema a second time (the build checked every register);
    # a section that loads other content than the check saw (a clerk saved the register meanwhile: here the section
    # saves it itself, with a negative count) runs again, checking as it loads, and says why.
    root = small_project(tmp_path, [("甲", "resave.ipynb", {"content": "项目,数量\n甲,-5\n"})])
    (root / "data" / "tables.yml").write_text(
        "tables:\n  counts:\n    file: counts.csv\n    columns:\n      项目: {type: text}\n      数量: {type: integer}\n",
        encoding="utf-8")
    (root / "data" / "2021" / "counts.csv").write_text("项目,数量\n甲,12\n", encoding="utf-8")
    result = build_html(root, tmp_path / "out")
    assert "counts.csv is not what the data check saw" in result.stdout
    assert result.returncode != 0 and "-5" in result.stderr and "counts.csv, row 2" in result.stderr
    assert not (tmp_path / "out" / "2021" / "report.html").exists()  # nothing unchecked was published
