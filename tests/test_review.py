"""The review round trip (#22): reviewers' comments and tracked changes in copies of the 2020 draft's Word version
come back to the narrative lines they belong to; `--apply` writes exactly the accepted wording.

The reviewed copies are made as a reviewer's Word would make them: python-docx for the comment, and `w:ins` /
`w:del` runs for the tracked changes, and also saved again by LibreOffice (as WPS and LibreOffice users send them).
The expected narrative files are written out by hand from the 2020 narratives.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import HANG, copy_2020_project, run_cli

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
DATE = "2026-12-01T09:00:00Z"


@pytest.fixture(scope="module")
def draft(tmp_path_factory) -> Path:
    """A copy of the 2020 project and its draft, in Word only."""
    root = tmp_path_factory.mktemp("review")
    copy_2020_project(root)
    result = run_cli("build", "--year", "2020", "--draft", "--format", "docx", cwd=root)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def project(draft, tmp_path) -> Path:
    """The drafted project, its narratives fresh for each test (``--apply`` writes them)."""
    root = tmp_path / "project"
    shutil.copytree(draft, root, symlinks=True)
    return root


def _q(tag: str) -> str:
    return f"{{{W}}}{tag}"


def _paragraph(document, text: str):
    found = [p for p in document.paragraphs if text in p.text]
    assert len(found) == 1, (text, [p.text[:30] for p in found])
    return found[0]


def _run(text: str, deleted: bool = False):
    from docx.oxml import OxmlElement

    run, t = OxmlElement("w:r"), OxmlElement("w:delText" if deleted else "w:t")
    t.text = text
    t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
    run.append(t)
    return run


def _tracked(kind: str, text: str, author: str, ident: int):
    from docx.oxml import OxmlElement

    change = OxmlElement(f"w:{kind}")
    change.set(_q("id"), str(ident))
    change.set(_q("author"), author)
    change.set(_q("date"), DATE)
    change.append(_run(text, deleted=kind == "del"))
    return change


def replace(paragraph, old: str, new: str, author: str, ident: int) -> None:
    """A tracked change replacing ``old`` (within one run) by ``new``, as Word records it."""
    run = next(r for r in paragraph.runs if old in r.text)
    before, after = run.text.split(old, 1)
    run.text = before
    anchor = run._r
    for node in (_tracked("del", old, author, ident), *([_tracked("ins", new, author, ident + 1)] if new else []),
                 *([_run(after)] if after else [])):
        anchor.addnext(node)
        anchor = node


def append(paragraph, new: str, author: str, ident: int) -> None:
    """A tracked insertion at the end of the paragraph."""
    paragraph._p.append(_tracked("ins", new, author, ident))


def reviewed(root: Path, name: str, edit) -> Path:
    """A copy of the draft edited by ``edit(document)``, saved as ``name``."""
    import docx

    document = docx.Document(root / "outputs" / "2020" / "report.docx")
    edit(document)
    target = root / name
    document.save(target)
    return target


def review(root: Path, *files: Path, apply: bool = False):
    result = run_cli("review", *map(str, files), *(["--apply"] if apply else []), cwd=root)
    assert result.returncode == 0, result.stderr
    return result.stdout


def first_reviewer(document) -> None:
    """张三: a comment, a word replaced, a sentence added, a figure changed."""
    opening = _paragraph(document, "我局积极做好相关工作")
    document.add_comment(opening.runs[0], text="请补充文件名称的全称。", author="张三", initials="ZS")
    replace(opening, "积极做好", "认真做好", "张三", 101)
    leadership = _paragraph(document, "着力发挥党组织政治核心作用")
    append(leadership, "全年召开党组会议研究法治工作。", "张三", 103)
    tutoring = _paragraph(document, "参与检查")
    figure_run = next(r for r in tutoring.runs if "多" in r.text and any(c.isdigit() for c in r.text))
    replace(tutoring, figure_run.text, "160多", "张三", 105)


def test_every_comment_and_change_is_named_at_its_narrative_line(project):
    stdout = review(project, reviewed(project, "张三.docx", first_reviewer))
    lines = stdout.splitlines()
    opening = lines.index("2020/narrative/opening.md")
    assert lines[opening + 1].startswith("  第1行：「根据《督察内容及任务分工》")
    block = "\n".join(lines[opening:opening + 8])
    assert "批注（张三，2026-12-01" in block or "批注（张三，" in block
    assert "请补充文件名称的全称。" in block
    assert "修订（张三，2026-12-01，张三.docx）：将「积极做好」改为「认真做好」" in block
    leadership = "\n".join(lines[lines.index("2020/narrative/party-leadership.md"):][:6])
    assert "第1行" in leadership and "插入「全年召开党组会议研究法治工作。」" in leadership
    tutoring = "\n".join(lines[lines.index("2020/narrative/tutoring-governance.md"):][:6])
    assert "将「150多」改为「160多」" in tutoring
    assert "数据来源：校外培训机构" in tutoring or "数据来源：" in tutoring
    assert "1 份审阅稿：1 条批注，3 处修订" in stdout


def test_apply_writes_exactly_the_accepted_wording_and_never_a_figure(project):
    narrative = project / "data" / "2020" / "narrative"
    before = {p.name: p.read_text(encoding="utf-8") for p in narrative.glob("*.md")}
    stdout = review(project, reviewed(project, "张三.docx", first_reviewer), apply=True)
    after = {p.name: p.read_text(encoding="utf-8") for p in narrative.glob("*.md")}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"opening.md", "party-leadership.md"}
    assert after["opening.md"] == before["opening.md"].replace("我局积极做好相关工作", "我局认真做好相关工作")
    lines = before["party-leadership.md"].split("\n")
    lines[0] += "全年召开党组会议研究法治工作。"
    assert after["party-leadership.md"] == "\n".join(lines)
    assert "{{ staff_deployed | more(10) }}" in after["tutoring-governance.md"]  # the placeholder left intact
    assert "未写入：数据有异议，请核对登记表" in stdout and "已写入 2 处，未写入 1 处" in stdout


def test_a_disputed_figure_from_one_register_row_names_that_row(project):
    # The draft's 1所九年一贯制民办学校筹设 is counted from one row of the licence register: line 24 of
    # data/2020/licence_decisions.csv (从教许〔2020〕23号, 九年一贯制民办学校, 筹设, 批准).
    copy = reviewed(project, "赵六.docx", lambda d: replace(_paragraph(d, "社会力量办学评审小组"), "1所九年一贯制", "2所九年一贯制",
                                                        "赵六", 401))
    stdout = review(project, copy, apply=True)
    assert "数据有异议，请核对登记表「民办学校行政许可决定登记」2020年第24行" in stdout
    assert "check register 民办学校行政许可决定登记 2020, row 24" in stdout
    assert "2所" not in (project / "data" / "2020" / "narrative" / "party-leadership.md").read_text(encoding="utf-8")


def test_two_reviewers_changing_one_sentence_differently_is_a_conflict_left_alone(project):
    first = reviewed(project, "李四.docx", lambda d: replace(_paragraph(d, "我局积极做好相关工作"), "积极", "认真", "李四", 201))
    second = reviewed(project, "王五.docx", lambda d: replace(_paragraph(d, "我局积极做好相关工作"), "积极", "全力", "王五", 301))
    opening = project / "data" / "2020" / "narrative" / "opening.md"
    text = opening.read_text(encoding="utf-8")
    stdout = review(project, first, second, apply=True)
    assert opening.read_text(encoding="utf-8") == text
    assert stdout.count("与其他审阅人的修订冲突") == 2 and "王五（王五.docx）" in stdout and "李四（李四.docx）" in stdout


def test_the_same_change_from_two_reviewers_is_applied_once(project):
    edit = lambda d: replace(_paragraph(d, "我局积极做好相关工作"), "积极", "认真", "赵六", 401)  # noqa: E731
    first, second = reviewed(project, "赵六甲.docx", edit), reviewed(project, "赵六乙.docx", edit)
    opening = project / "data" / "2020" / "narrative" / "opening.md"
    text = opening.read_text(encoding="utf-8")
    review(project, first, second, apply=True)
    assert opening.read_text(encoding="utf-8") == text.replace("我局积极做好", "我局认真做好")


def test_a_copy_saved_by_libreoffice_is_read_the_same(project):
    original = reviewed(project, "张三.docx", first_reviewer)
    folder = project / "lo"
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{project}/lo-profile", "--convert-to",
                    "docx", "--outdir", str(folder), str(original)], check=True, capture_output=True, timeout=HANG)
    again = review(project, folder / "张三.docx")
    for expected in ("将「积极做好」改为「认真做好」", "插入「全年召开党组会议研究法治工作。」", "将「150多」改为「160多」",
                     "请补充文件名称的全称。", "1 份审阅稿：1 条批注，3 处修订"):
        assert expected in again, again
    assert "2020/narrative/opening.md" in again and "书签已失" not in again.split("2020/narrative/party")[0]


def test_a_paragraph_that_lost_its_bookmark_is_found_by_its_text(project):
    def edit(document):
        paragraph = _paragraph(document, "我局积极做好相关工作")
        for mark in paragraph._p.findall(_q("bookmarkStart")) + paragraph._p.findall(_q("bookmarkEnd")):
            paragraph._p.remove(mark)
        replace(paragraph, "积极做好", "认真做好", "钱七", 501)

    stdout = review(project, reviewed(project, "钱七.docx", edit))
    assert "2020/narrative/opening.md" in stdout and "第1行（书签已失，按文字匹配）" in stdout


def test_a_published_report_carries_no_anchor(built_2020):
    html = built_2020["report"].read_text(encoding="utf-8")
    assert "data-anchor" not in html
    docx = built_2020["report"].with_name("report.docx")
    if docx.is_file():
        import zipfile

        assert not re.search(rb'w:name="arf?_', zipfile.ZipFile(docx).read("word/document.xml"))
