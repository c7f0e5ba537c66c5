"""What changed since the last draft (#22): `annual-review diff OLD NEW` between two builds, and a draft marked
with it (`build --draft --redline`) in HTML (<del>/<ins>) and in Word (tracked changes LibreOffice shows as such).

Between the two drafts one sentence of a narrative and one register row change (the headline figure with it, as
the cross-check requires); the expected changes are written out by hand from the 2020 report.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile

import pytest

from conftest import HANG, copy_2020_project, run_cli


@pytest.fixture(scope="module")
def drafts(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("changes")
    copy_2020_project(root)
    first = run_cli("build", "--year", "2020", "--draft", "--format", "html,pdf,docx", cwd=root)
    assert first.returncode == 0, first.stderr
    old = root / "old-2020"
    shutil.copytree(root / "outputs" / "2020", old)
    data = root / "data" / "2020"
    opening = data / "narrative" / "opening.md"
    opening.write_text(opening.read_text(encoding="utf-8").replace("我局积极做好", "我局认真做好"), encoding="utf-8")
    register = data / "tutoring_inspections.csv"  # row 4: 城郊街's action, 5 staff → 15
    lines = register.read_text(encoding="utf-8").splitlines()
    assert lines[3].split(",")[4] == "5"
    fields = lines[3].split(",")
    fields[4] = "15"
    lines[3] = ",".join(fields)
    register.write_text("\n".join(lines) + "\n", encoding="utf-8")
    headline = data / "key_figures.csv"
    headline.write_text(headline.read_text(encoding="utf-8").replace("治理行动出动人次,156,", "治理行动出动人次,166,"),
                        encoding="utf-8")
    second = run_cli("build", "--year", "2020", "--draft", "--redline", "--format", "html,docx", cwd=root)
    assert second.returncode == 0, second.stderr
    new = root / "outputs" / "2020"
    result = run_cli("diff", str(old), str(new), cwd=root)
    assert result.returncode == 0, result.stderr
    return {"root": root, "old": old, "new": new, "diff": result.stdout}


def test_diff_reports_exactly_the_changed_sentence_rows_and_figures_and_why(drafts):
    lines = drafts["diff"].splitlines()
    sections = [line for line in lines if line.startswith("部分 ")]
    assert sections == ["部分 opening：叙述文本 (narrative) opening.md 有改动",
                        "部分 key-figures：登记表 (register) key_figures.csv 有改动",
                        "部分 tutoring-governance：登记表 (register) tutoring_inspections.csv 有改动"]
    changed = [line.strip() for line in lines if line.strip().startswith("「")]
    # 积极→认真; 156→166 in the headline table; 150多→160多 in the text; 114→124 (镇街级) and 156→166 (合计)
    assert changed == ["「积极」→「认真」", "「156」→「166」", "「150」→「160」", "「114」→「124」", "「156」→「166」"]
    assert "  改：镇街级 | 24 | 114 | 3 | 5" in lines and "    → 镇街级 | 24 | 124 | 3 | 5" in lines
    assert "数据：150多 → 160多（校外培训机构常态化治理行动登记 2020，出动人次合计，共27行）" in lines
    assert lines[-1] == "共 5 处段落或表格行有变化，4 个数据有变化"


def test_two_builds_alike_have_no_change(drafts):
    result = run_cli("diff", str(drafts["old"]), str(drafts["old"]), cwd=drafts["root"])
    assert result.stdout.strip() == "两次生成的报告内容相同 (no change a reader would see)"


def test_the_redline_draft_marks_the_changes_in_html(drafts):
    page = (drafts["new"] / "report.html").read_text(encoding="utf-8")
    assert re.search(r"我局<del>积极</del><ins>认真</ins>做好相关工作", page)
    # The figure keeps its source and its number in the sources appendix.
    assert re.search(r'累计出动<span[^>]*><del>150</del><ins>160</ins>多</span><sup class="ar-fig-ref"><a [^>]*>\d+</a></sup>人次',
                     page)
    assert "与上一稿相比，2 处段落有变化" in page  # the opening sentence and the tutoring paragraph
    assert page.count("<del>") == 2 and page.count("<ins>") == 2  # tables are compared by `diff`, not redlined


def test_the_redline_word_version_has_tracked_changes_libreoffice_shows(drafts, tmp_path):
    document = zipfile.ZipFile(drafts["new"] / "report.docx").read("word/document.xml").decode("utf-8")
    assert re.search(r'<w:del w:id="\d+" w:author="修订标记"[^>]*><w:r><w:delText>积极</w:delText>', document)
    assert re.search(r'<w:ins w:id="\d+" w:author="修订标记"[^>]*><w:r><w:t>认真</w:t>', document)
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to", "odt",
                    "--outdir", str(tmp_path), str(drafts["new"] / "report.docx")], check=True, capture_output=True,
                   timeout=HANG)
    content = zipfile.ZipFile(tmp_path / "report.odt").read("content.xml").decode("utf-8")
    regions = re.findall(r"<text:changed-region.*?</text:changed-region>", content, flags=re.S)
    assert sum("text:deletion" in r for r in regions) == 2 and sum("text:insertion" in r for r in regions) == 2
    assert "积极" in "".join(r for r in regions if "text:deletion" in r)


def test_the_draft_mark_is_on_every_page_of_the_pdf_and_word_and_its_appendix_is_compact(drafts):
    pdf = drafts["old"] / "report.pdf"
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout)[1])
    texts = [subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), "-layout", str(pdf), "-"], capture_output=True,
                            text=True).stdout for n in range(1, pages + 1)]
    assert all(text.lstrip().startswith("征求意见稿") for text in texts)  # the header of every page
    appendix = [n for n, text in enumerate(texts) if "附：数据来源" in text][0]
    assert pages - appendix <= 3  # the sources in a compact table, not seven pages at body leading
    package = zipfile.ZipFile(drafts["old"] / "report.docx")
    headers = [name for name in package.namelist() if re.fullmatch(r"word/header\d+\.xml", name)]
    assert len(headers) == 2 and all("征求意见稿" in package.read(h).decode("utf-8") for h in headers)  # odd, even
    document = package.read("word/document.xml").decode("utf-8")
    assert re.search(r'<w:vertAlign w:val="superscript"/></w:rPr><w:t>\d+</w:t>', document)  # figures numbered
    links = set(re.findall(r'<w:hyperlink w:anchor="(src_\d+)">', document))
    targets = set(re.findall(r'<w:bookmarkStart w:id="\d+" w:name="(src_\d+)"/>', document))
    assert links and links <= targets  # each number links to its row of the appendix


def test_the_draft_mark_stays_on_screen_as_a_reader_scrolls(drafts):
    from playwright.sync_api import sync_playwright

    from test_browser import CHROMIUM, FLAGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        for width in (390, 1280):
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.goto((drafts["old"] / "report.html").as_uri(), wait_until="load")
            page.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
            page.wait_for_function("window.scrollY > 1000")
            top = page.evaluate("document.querySelector('.ar-draft-mark').getBoundingClientRect().top")
            assert top == 0, (width, top)  # held at the top of the window, halfway down the report
        browser.close()


def test_redline_goes_with_draft(drafts):
    result = run_cli("build", "--year", "2020", "--redline", "--format", "html", cwd=drafts["root"])
    assert result.returncode != 0 and "--redline marks a draft against the previous draft" in result.stderr
