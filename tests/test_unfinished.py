"""Nothing unfinished leaves the office (issue #19): stubs, required parts that say nothing, and last year's words
carried over untouched are refused by a final build and by ``check``, named by file and line; a draft shows them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from annual_review.notebook.finished import CARRIED, record_carried, unfinished
from conftest import CONFIG, NOTEBOOKS, copy_2020_data, run_cli


def finished_init(root: Path) -> Path:
    """A new body's project with every stub written over, as its author would."""
    assert run_cli("init", str(root), "--body", "某某县司法局", "--year", "2023").returncode == 0
    for path in (root / "data" / "2023").rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"【待填写[^】]*】", "本单位按计划完成了各项工作", text), encoding="utf-8")
    return root


def test_a_required_part_that_is_only_a_comment_is_refused_and_marked_in_a_draft(tmp_path):
    root = finished_init(tmp_path / "body")
    narrative = root / "data" / "2023" / "narrative" / "leaders_duty.md"
    narrative.write_text("{# 党政主要负责人履行职责的情况：研究部署、带头学法 #}\n\n", encoding="utf-8")  # the line deleted, the hint left
    said = "data/2023/narrative/leaders_duty.md, line 1: the part '党政主要负责人履行推进法治建设第一责任人职责，加强法治政府建设的有关情况' says nothing"
    build = run_cli("build", "--format", "html", cwd=root)
    assert build.returncode == 2 and said in build.stderr
    check = run_cli("check", cwd=root)
    assert check.returncode == 2 and said in check.stdout
    draft = run_cli("build", "--format", "html", "--draft", cwd=root)
    assert draft.returncode == 0, draft.stderr
    page = (root / "outputs" / "2023" / "report.html").read_text(encoding="utf-8")
    assert '<p class="ar-unfinished" role="alert">本部分尚无内容（必报内容，待填写）</p>' in page
    narrative.write_text("局主要负责人带头学法，研究部署法治建设工作3次。\n", encoding="utf-8")
    assert run_cli("build", "--format", "html", cwd=root).returncode == 0


def test_a_carried_paragraph_is_told_from_an_edited_and_a_kept_one(tmp_path):
    folder = tmp_path / "data" / "2021" / "narrative"
    folder.mkdir(parents=True)
    last_year = "第一段，去年的话。\n\n第二段，去年的话。\n\n第三段，去年的话。\n"
    (folder / CARRIED).write_text(json.dumps(record_carried(folder, 2020, {"x.md": last_year})), encoding="utf-8")
    (folder / "x.md").write_text("第一段，去年的话。\n\n第二段，今年改过了。\n\n第三段，去年的话。{# 保留 #}\n", encoding="utf-8")
    found = unfinished(None, tmp_path / "data", 2021)
    assert [(f.file.name, f.line) for f in found] == [("x.md", 1)]  # only the first: untouched
    assert "carried over from 2020 by new-year and not changed since" in str(found[0])
    assert "add {# 保留 #} to the paragraph to keep 2020's wording on purpose" in str(found[0])


def test_new_year_records_what_it_carries_and_a_draft_highlights_it(tmp_path):
    project = tmp_path / "project"
    copy_2020_data(project / "data")
    shutil.copytree(NOTEBOOKS, project / "notebooks")
    shutil.copy(CONFIG, project / "report.yml")
    assert run_cli("new-year", "2021", cwd=project).returncode == 0
    record = json.loads((project / "data" / "2021" / "narrative" / CARRIED).read_text(encoding="utf-8"))
    assert record["from"] == 2020 and "opening.md" in record["paragraphs"]
    check = run_cli("check", "--year", "2021", cwd=project)
    assert check.returncode == 2
    assert "error: data/2021/narrative/opening.md, line 1: carried over from 2020" in check.stdout
    # (registers emptied by new-year are filled in; the follow-up statuses too)
    for path in (project / "data" / "2020").glob("*.csv"):
        (project / "data" / "2021" / path.name).write_text(path.read_text(encoding="utf-8").replace("2020-", "2021-"),
                                                           encoding="utf-8")
    follow_up = project / "data" / "2021" / "follow_up.csv"
    lines = follow_up.read_text(encoding="utf-8").splitlines()
    follow_up.write_text("\n".join([lines[0], *(f"{line[:-2]},推进中," for line in lines[1:])]) + "\n", encoding="utf-8")
    draft = run_cli("build", "--year", "2021", "--format", "html", "--draft", cwd=project)
    assert draft.returncode == 0, draft.stderr
    page = (project / "outputs" / "2021" / "report.html").read_text(encoding="utf-8")
    opening = (project / "data" / "2021" / "narrative" / "opening.md").read_text(encoding="utf-8").split("\n")[0]
    # Last year's words, marked for the reader of the draft (the paragraph also says which narrative line it is).
    assert re.search(rf'<p class="ar-unfinished" data-anchor="2021/narrative/opening.md:1">{re.escape(opening[:10])}', page)
