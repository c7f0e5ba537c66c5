"""Publication-ready (issue #12): role fonts, official numbering, charts and pages for print, final and draft, phones.

Everything is read from the files the build wrote (the session's 2020 build, in every
format), through the tools a reader's machine would use: poppler for the PDF,
LibreOffice for the Word document, Chromium for the page.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import docx
import nbformat
import pytest
from docx.oxml.ns import qn

from conftest import plain, run_cli, small_project, squash, visible_text
from test_browser import CHROMIUM, FLAGS
from test_report import FIGURES


def poppler(*args: str) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def year_dir(built_2020) -> Path:
    return built_2020["out"] / "2020"


# --- 1. fonts by role ------------------------------------------------------------------------------

def test_the_pdf_uses_simplified_chinese_role_fonts_and_nothing_else(year_dir):
    faces = [row.split()[0].split("+")[-1] for row in poppler("pdffonts", str(year_dir / "report.pdf")).splitlines()[2:]]
    assert any(re.search(r"Noto-?Serif(-CJK)?-?SC", f) for f in faces), faces  # body and title: an SC serif (no 仿宋 here)
    assert any(re.search(r"Noto-?Sans(-CJK)?-?SC", f) for f in faces), faces  # headings, tables and charts: an SC sans
    assert not [f for f in faces if re.search(r"TC|JP|KR|HK", f)]  # no other region's cut
    assert not [f for f in faces if re.search(r"DejaVu|Liberation", f)]  # digits and Latin in the paragraph's own face


def test_fonts_lists_each_role(built_2020):
    result = run_cli("fonts")
    assert result.returncode == 0
    for role in ("title", "body", "heading1", "heading2", "figures"):
        assert re.search(rf"^{role}\s+\S+: .+ \((system|package) font: ", result.stdout, flags=re.M), result.stdout


def test_word_styles_and_page_follow_the_config(tmp_path):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})], config=(
        "document:\n  page: A5\n  margins: {top: 20mm, bottom: 22mm, left: 18mm, right: 17mm}\n"
        "  body_font: [某某仿宋]\n  heading_fonts: [某某黑体, 某某楷体]\n  title_font: 某某小标宋\n  body_size: 14pt\n"))
    assert run_cli("build", "--format", "html,docx", "--output-dir", str(tmp_path / "out"), cwd=root).returncode == 0
    word = docx.Document(tmp_path / "out" / "2021" / "report.docx")
    section = word.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (148, 210)
    assert [round(m.mm) for m in (section.top_margin, section.bottom_margin, section.left_margin, section.right_margin)] == [20, 22, 18, 17]

    def east_asian(style: str) -> str:
        return word.styles[style].element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia"))

    assert (east_asian("Normal"), east_asian("Title"), east_asian("Heading 1"), east_asian("Heading 2")) == \
        ("某某仿宋", "某某小标宋", "某某黑体", "某某楷体")
    assert word.styles["Normal"].font.size.pt == 14
    assert "PAGE" in section.footer._element.xml  # the page number field, in every page's footer


# --- 2. numbering and punctuation --------------------------------------------------------------------

def test_headings_use_full_width_brackets(built_2020):
    headings = [squash(visible_text(h)) for h in re.findall(r"<h3[^>]*>.*?</h3>", built_2020["html"], flags=re.S)]
    assert "（一）加强党对法治政府建设的领导。" in headings and not [h for h in headings if h.startswith("(")]


def test_the_copy_check_warns_with_file_and_line_and_changes_nothing(project):
    path = project / "data" / "2020" / "narrative" / "opening.md"
    before = path.read_bytes()
    result = run_cli("check", "--year", "2020", cwd=project)
    assert result.returncode == 0
    line = next(n for n, text in enumerate(before.decode("utf-8").splitlines(), 1) if "分工," in text)
    assert f"{path.relative_to(project)}, line {line}: half-width ','" in result.stdout
    assert path.read_bytes() == before


# --- 3. charts for print ---------------------------------------------------------------------------

def test_the_overlap_check_finds_a_legend_over_the_bars():
    import pandas as pd

    from annual_review.notebook import charts

    table = pd.DataFrame({"学期": ["春", "春", "秋", "秋"], "类别": ["甲", "乙", "甲", "乙"], "人次": [677, 583, 709, 649]})
    fig = charts.bar_chart(table, x="学期", y="人次", group="类别", title="资助人次", value_label="人次", unit="人次")
    assert charts.overlaps(fig) == []
    fig.legends.clear()
    fig.axes[0].legend(loc="center", fontsize=30)  # as charts used to: drawn over the bars and their labels
    found = charts.overlaps(fig)
    assert any("covers a bar" in f for f in found) and any("value label" in f for f in found)


def test_count_axes_have_whole_number_ticks():
    import pandas as pd

    from annual_review.notebook import charts

    fig = charts.bar_chart(pd.DataFrame({"级": ["区级", "镇街级"], "次": [1, 3]}), x="级", y="次", title="t", value_label="次数", unit="次")
    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    ticks = [t for t in fig.axes[0].get_yticks() if 0 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)


def test_every_chart_of_the_report_was_checked_for_print(year_dir):
    charts = [o for path in sorted((year_dir / "sections").glob("*.ipynb"))
              for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"
              for o in c.outputs if "image/png" in o.get("data", {}) and "annual_review" in o.get("metadata", {})]
    assert len(charts) == 4
    for chart in charts:
        layout = chart["metadata"]["layout"]
        assert layout["overlaps"] == 0 and layout["width_in"] <= 6.3 and layout["smallest_pt"] >= 7


# --- 4. Word pictures at full height ---------------------------------------------------------------

def test_word_pictures_are_not_clipped(year_dir, tmp_path):
    word = docx.Document(year_dir / "report.docx")
    holding = [p for p in word.paragraphs if p._element.xpath(".//w:drawing")]
    assert len(holding) == 4
    for paragraph in holding:  # the style's automatic spacing, not the body's exact 28 pt
        assert paragraph.style.name == "Picture" and paragraph.paragraph_format.line_spacing_rule != 4
        assert str(paragraph.style.paragraph_format.line_spacing_rule) != "EXACTLY (4)"
    converted = tmp_path / "report.pdf"
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(year_dir / "report.docx")],
                   check=True, capture_output=True, timeout=300)
    # Each chart's bars (the palette's blues) span well over an inch down the page, not a 28 pt strip.
    from PIL import Image

    poppler("pdftoppm", "-r", "50", "-png", str(converted), str(tmp_path / "page"))
    spans = []
    for page in sorted(tmp_path.glob("page-*.png")):
        image = Image.open(page).convert("RGB")
        rows = [y for y in range(image.height) if any(_blue(image.getpixel((x, y))) for x in range(0, image.width, 3))]
        if rows:
            spans.append((max(rows) - min(rows)) / 50)
    assert len(spans) >= 4 and min(spans) > 1.2, spans


def _blue(pixel) -> bool:
    r, g, b = pixel
    return b > 150 and r < 130 and b - r > 80  # #0072B2 and #56B4E9, the report's blues


# --- 5. pages ---------------------------------------------------------------------------------------

def test_no_page_is_left_a_third_empty_before_a_block_that_would_fit(year_dir):
    """Measured on WeasyPrint's own layout of the report the PDF was made from."""
    import weasyprint

    pages = weasyprint.HTML(filename=str(year_dir / "report.html")).render().pages
    for number, (page, following) in enumerate(zip(pages, pages[1:]), 1):
        used, free = _used(page)
        if used >= 2 / 3:
            continue
        first = _first_block_height(following)
        assert first > free, f"page {number} is {1 - used:.0%} empty, yet the next page opens with a block of {first:.0f} px"


def _leaves(box):
    for child in getattr(box, "children", []):
        if type(child).__name__ == "MarginBox":
            continue
        if type(child).__name__ in ("LineBox", "BlockReplacedBox", "InlineReplacedBox", "TableRowBox"):
            yield child
        else:
            yield from _leaves(child)


def _used(page) -> tuple[float, float]:
    box = page._page_box
    top, height = box.content_box_y(), box.height
    bottom = max((leaf.position_y + leaf.margin_height() for leaf in _leaves(box)), default=top)
    return (bottom - top) / height, top + height - bottom


def _first_block_height(page) -> float:
    """The height of what opens the page and cannot be split: a chart or table row with its margins, or a heading
    with the first lines after it (it is kept with them)."""
    first = _first_element(page._page_box)
    if first is None:
        return 0.0
    if first.element_tag in ("h2", "h3", "h4", "h5", "h6"):
        return first.margin_height() + 2 * 40  # and two lines of text (28 pt)
    return first.margin_height()


def _first_element(box):
    for child in getattr(box, "children", []):
        if type(child).__name__ == "MarginBox":
            continue
        if getattr(child, "element_tag", None) in ("figure", "h2", "h3", "h4", "h5", "h6", "p", "tr"):
            return child
        found = _first_element(child)
        if found is not None:
            return found
    return None


def test_short_phrases_in_tables_never_wrap(built_2020):
    assert re.search(r'<td class="ar-change"[^>]*>增加3所、增长11.5%</td>', built_2020["html"])
    assert ".ar-table th, .ar-table td.ar-num, .ar-table td.ar-change, .ar-unit { white-space: nowrap; }" in built_2020["html"]


# --- 6. final and draft ------------------------------------------------------------------------------

def test_the_final_report_names_no_tool_version_commit_or_build_time(built_2020, year_dir):
    text = visible_text(built_2020["html"]) + poppler("pdftotext", "-enc", "UTF-8", str(year_dir / "report.pdf"), "-")
    text += "".join(p.text for p in docx.Document(year_dir / "report.docx").paragraphs)
    commit = json.loads((year_dir / "manifest.json").read_text(encoding="utf-8"))["git_commit"]
    for word in ("annual-review", "章节笔记本", "代码版本", "生成时间", "0.1.0", *([commit[:12]] if commit else [])):
        assert word not in text, word
    assert re.search(r'<meta content="annual-review [^"]+" name="generator"', built_2020["html"])  # kept out of sight
    assert "2020年的合计数取自该局已公开发布的2020年度报告" in plain(text)  # the data's own provenance stays visible


@pytest.fixture(scope="module")
def draft(built_2020, tmp_path_factory):
    """The same build as a draft: the executed sections are reused, only the report is rendered again."""
    out = tmp_path_factory.mktemp("draft")
    shutil.copytree(built_2020["out"] / "2020", out / "2020")
    result = run_cli("build", "--year", "2020", "--format", "html", "--draft", "--output-dir", str(out))
    assert result.returncode == 0, result.stderr
    assert "ran " not in result.stdout  # nothing executed again
    return (out / "2020" / "report.html").read_text(encoding="utf-8")


def test_a_draft_has_the_mark_and_a_source_for_every_figure(draft):
    assert re.search(r'<p class="ar-draft-mark">征求意见稿（\d{4}-\d\d-\d\d \d\d:\d\d 生成', draft)
    figures = re.findall(r'<span class="ar-fig" id="fig-\d+" title="数据来源：([^"]+)">([^<]+)</span>', draft)
    shown = {text: source for source, text in figures}
    expected = {  # each figure of the published report, with the register and the rows it was counted from
        "1所九年一贯制民办学校筹设": "民办学校行政许可决定登记 2020，决定为批准，按许可事项、学校类型分组（筹设、九年一贯制民办学校），共1行（第24行）",  # line 24 of licence_decisions.csv
        "2600多": "学前教育资助发放登记 2020，资助人次合计，共48行",
        "近70万": "学前教育资助发放登记 2020，资助金额合计，共48行",
        "424": "生源地信用助学贷款办理登记 2020，共424行",
        "150多": "校外培训机构常态化治理行动登记 2020，出动人次合计，共27行",
        "1至10月": "校外培训机构常态化治理行动登记 2020，行动日期所在月份，共27行",  # the months are data too
    }
    for text, source in expected.items():
        assert any(text in t and source in shown[t] for t in shown), (text, source)
    for figure in FIGURES:  # every one of the seed's figures sits in a marked figure
        number = re.search(r"\d+", figure).group()
        assert any(number in t for t in shown), figure
    sourced = (len(figures) + draft.count('<td class="ar-num ar-fig"') + draft.count('<td class="ar-change ar-fig"')
               + draft.count('<figure class="ar-chart ar-fig"'))
    # A chart names its register, year, filter and the rows it counts, as a figure does.
    assert '<td>图：2020年学前教育资助人次（分学期）</td><td>学前教育资助发放登记 2020，资助人次，共48行</td>' in draft
    assert '<td>图：2020年批准的民办学校筹设、设立</td><td>民办学校行政许可决定登记 2020，决定为批准，批准数量，共29行</td>' in draft
    assert "附：数据来源（征求意见稿）" in draft and draft.count('<tr id="src-') == sourced
    # Each figure numbered, its number a superscript linking to its row of the appendix, which links back.
    for n in range(1, sourced + 1):
        assert f'<a aria-label="数据来源{n}" href="#src-{n}">{n}</a></sup>' in draft
        assert f'<tr id="src-{n}"><td><a href="#fig-{n}">{n}</a></td>' in draft


def test_table_cells_carry_their_rows_in_a_draft(draft):
    # …and the column: four cells of one row of 校外培训 no longer read alike.
    assert re.search(r'<td class="ar-num ar-fig" id="fig-\d+" title="数据来源：学前教育资助发放登记 2020，按资助对象类别分组'
                     r'（贫困家庭的幼儿），共24行，列：资助人次">1232<sup', draft)
    # Three rows or fewer are named by their lines in the register: data/2020/tutoring_inspections.csv has 区级 on
    # lines 3 (ZL2020-02), 10 (ZL2020-09) and 27 (ZL2020-26).
    assert re.search(r'title="数据来源：校外培训机构常态化治理行动登记 2020，按组织层级分组（区级），共3行（第3、10、27行），列：出动人次">',
                     draft)


# --- 7. on a phone ----------------------------------------------------------------------------------

def test_on_a_phone_tables_keep_their_labels_whole_and_charts_stay_legible(built_2020):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        page.goto(built_2020["report"].as_uri(), wait_until="load")
        narrowest = page.evaluate("""() => Math.min(...[...document.querySelectorAll('.ar-table td, .ar-table th')].map(c => {
            const size = parseFloat(getComputedStyle(c).fontSize); return c.getBoundingClientRect().width / size; }))""")
        broken = page.evaluate("""() => [...document.querySelectorAll('.ar-table th, .ar-table td.ar-num, .ar-table td.ar-change')]
            .filter(c => { const r = document.createRange(); r.selectNodeContents(c);
                           return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1; })
            .map(c => c.textContent)""")
        widths = page.evaluate("() => [...document.querySelectorAll('.ar-chart img')].map(i => i.getBoundingClientRect().width)")
        page.screenshot(path=str(built_2020["out"] / "phone.png"), full_page=False)
        browser.close()
    assert narrowest >= 2  # no cell narrower than two characters
    assert broken == []  # headings, figures and 较上年 phrases on one line
    assert 340 <= min(widths) and max(widths) <= 390  # every chart as wide as the phone, none wider (tap to enlarge)


# --- 8. one consistent set of outputs --------------------------------------------------------------

def test_formats_not_built_this_time_are_removed(tmp_path):
    root = small_project(tmp_path, [("甲", "narrative.ipynb", {})])
    out = tmp_path / "out"
    assert run_cli("build", "--format", "html,pdf", "--output-dir", str(out), cwd=root).returncode == 0
    assert (out / "2021" / "report.pdf").is_file()
    assert run_cli("build", "--format", "html", "--output-dir", str(out), cwd=root).returncode == 0
    assert not (out / "2021" / "report.pdf").exists()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="2021/report.html"' in index and "report.pdf" not in index
