"""The Word version: the same report, with real heading styles, Word tables, pictures with alt text, Chinese fonts."""

import re

import docx
import pytest
from docx.oxml.ns import qn

from conftest import run_cli, squash, visible_text


@pytest.fixture(scope="module")
def document(built_2020):
    return docx.Document(built_2020["out"] / "2020" / "report.docx")  # the file the build wrote


def test_every_heading_uses_a_heading_style(built_2020, document):
    html_headings = [squash(visible_text(h)) for h in re.findall(r"<h[2-6][^>]*>.*?</h[2-6]>", built_2020["html"], flags=re.S)]
    word_headings = [squash(p.text) for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert word_headings == html_headings
    levels = {p.text: p.style.name for p in document.paragraphs if p.style.name.startswith("Heading")}
    assert levels["一、主要工作措施和成效。"] == "Heading 1" and levels["（七）校外培训机构专项治理进入常态化管理。"] == "Heading 2"
    assert document.paragraphs[0].style.name == "Title"


def test_tables_are_word_tables_and_charts_pictures_with_alt_text(document):
    # Key figures; licences, aid and loans, inspections, each with its comparison with 2019.
    assert len(document.tables) == 8
    assert ["合计", "", "29"] in [[c.text for c in t.rows[-1].cells] for t in document.tables]
    pictures = document.inline_shapes
    assert len(pictures) == 4
    assert all(p._inline.docPr.get("descr") for p in pictures)


def _word_text(document) -> str:
    """All text of the document body in reading order, tables included."""
    parts = []
    for element in document.element.body.iterchildren():
        if element.tag == qn("w:p"):
            parts.append("".join(t.text or "" for t in element.iter(qn("w:t"))))
        elif element.tag == qn("w:tbl"):
            parts.append("".join(t.text or "" for t in element.iter(qn("w:t"))))
    return "".join(parts)


def test_text_equals_the_html_report(built_2020, document):
    html = built_2020["html"]
    title = squash(visible_text(html.split("<h1>", 1)[1].split("</h1>", 1)[0]))
    body = html.split("<main>", 1)[1]  # the report after its contents list, footer included
    # The same words in the same order; Word makes its own contents list from the headings.
    assert squash(_word_text(document)) == title + squash(visible_text(body))


def test_chinese_text_names_an_east_asian_font(document):
    fonts = document.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == "仿宋_GB2312" and fonts.get(qn("w:ascii")) == "仿宋_GB2312"  # digits alike
    assert document.styles["Heading 1"].element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "黑体"


def test_build_writes_every_format_from_the_same_execution(project):
    result = run_cli("build", "--format", "html,pdf,docx", cwd=project)
    assert result.returncode == 0, result.stderr
    for name in ("report.html", "report.pdf", "report.docx"):
        assert (project / "outputs" / "2020" / name).is_file()
        assert name in result.stdout
    again = run_cli("build", "--format", "html,pdf,docx", cwd=project)
    assert "Nothing changed" in again.stdout  # no second execution for the second format
