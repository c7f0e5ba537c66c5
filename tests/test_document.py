"""The document an office sends untouched (issue #18), read from the files the build wrote as a reader's tools read
them: the Word version through LibreOffice and its own XML, the PDF through poppler, the page in Chromium.

Expected values are worked out by hand from GB/T 9704 and the config: the A4 text block is 210 − 28 − 26 = 156 mm
wide and 297 − 37 − 35 = 225 mm high; 22 lines make a line of 225 mm / 22 = 28.99 pt (580 twentieths); 28
characters of 16 pt fill 156 mm only 0.21 pt closer together (15.79 pt each).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import CONFIG, DATA, FIXTURES, NOTEBOOKS, run_cli
from readers import drawn_faces, libreoffice_pdf, poppler, words

MM = 72 / 25.4
LEFT, RIGHT, TOP, BOTTOM = 28 * MM, 26 * MM, 37 * MM, 35 * MM  # the config's margins, in points
W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def xml(docx: Path, part: str):
    from lxml import etree

    with zipfile.ZipFile(docx) as package:
        return etree.fromstring(package.read(part))


@pytest.fixture(scope="module")
def word_2020(built_2020) -> Path:
    return built_2020["out"] / "2020" / "report.docx"


@pytest.fixture(scope="module")
def built_2021(tmp_path_factory) -> Path:
    """2021's report in every format (it reads 2020 and 2019 for its comparisons and trends)."""
    out = tmp_path_factory.mktemp("outputs-2021")
    result = run_cli("build", "--year", "2021", "--format", "html,pdf,docx", "--output-dir", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    return out / "2021"


def wide_body(root: Path, columns: int = 8, rows: int = 30) -> Path:
    """A county body whose register has ``columns`` columns (8: a case register as a 司法局 keeps it), long names
    included, shown whole in one table."""
    names = [("case_no", "text", "案件编号", ""), ("decided_on", "date", "办结日期", ""),
             ("kind", "category", "案件类别", ""), ("party", "text", "当事人", ""), ("office", "text", "承办机构", ""),
             ("fine_yuan", "integer", "罚没金额", "元"), ("days", "integer", "办理天数", "天"), ("result", "text", "处理结果", "")]
    names += [(f"amount_{i}", "integer", f"分项金额{i}", "元") for i in range(columns - len(names))]
    names = names[:columns]
    (root / "data" / "2021" / "narrative").mkdir(parents=True)
    (root / "notebooks").mkdir()
    shutil.copy(FIXTURES / "register.ipynb", root / "notebooks")
    declared = "\n".join(f"      {n}: {{type: {t}, label: {label}{f', unit: {unit}' if unit else ''}"
                         f"{', categories: [行政许可, 行政处罚, 行政检查, 行政强制]' if t == 'category' else ''}}}"
                         for n, t, label, unit in names)
    (root / "data" / "tables.yml").write_text(f"tables:\n  cases:\n    file: cases.csv\n    title: 行政执法案件登记\n"
                                              f"    key: [case_no]\n    columns:\n{declared}\n", encoding="utf-8")
    values = {"text": lambda i, n: {"case_no": f"XZ2021-{i:03d}", "party": ["某某县某某教育培训中心有限公司", "某某镇某某村民委员会",
                                                                         "某某市某某建筑工程有限公司第三分公司"][i % 3],
                                    "office": ["县司法局行政执法监督科", "某某镇综合行政执法队"][i % 2],
                                    "result": ["依法作出行政处罚决定并已执行完毕", "责令限期改正，已整改到位", "不予处罚"][i % 3]}[n],
              "date": lambda i, n: f"2021-{i % 12 + 1:02d}-{i % 27 + 1:02d}",
              "category": lambda i, n: ["行政许可", "行政处罚", "行政检查", "行政强制"][i % 4],
              "integer": lambda i, n: str((i * 7919 * (len(n) + 3)) % 2_500_000)}
    lines = [",".join(n for n, *_ in names)] + [",".join(values[t](i, n) for n, t, *_ in names) for i in range(1, rows + 1)]
    (root / "data" / "2021" / "cases.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "data" / "2021" / "narrative" / "item1.md").write_text("全年办结行政执法案件若干件。\n", encoding="utf-8")
    (root / "report.yml").write_text(
        'body: 某某县司法局\ntitle: "{body}{year}年法治政府建设年度报告"\nnotebooks: notebooks\nsections:\n'
        "  - heading: 行政执法\n    notebook: register.ipynb\n    parameters: {section: item1, table: cases}\n",
        encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def wide(tmp_path_factory) -> Path:
    """The eight-column body, built in every format."""
    root = wide_body(tmp_path_factory.mktemp("county"))
    result = run_cli("build", "--format", "html,pdf,docx", "--output-dir", str(root / "out"), cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return root / "out" / "2021"


# --- 1. Word: the styles, the font table, the properties ------------------------------------------------

ROLE_FONTS = {"Normal": "仿宋_GB2312", "Title": "方正小标宋简体", "Heading1": "黑体", "Heading2": "楷体_GB2312",
              "TableText": "黑体", "Caption": "黑体"}  # report.yml's document: fonts, the first of each role (by style id)


def test_word_styles_name_the_role_fonts_with_no_theme_font_and_say_zh_cn(word_2020):
    styles = xml(word_2020, "word/styles.xml")
    for name, font in ROLE_FONTS.items():
        style = next(s for s in styles.iter(f"{W}style") if s.get(f"{W}styleId") == name)
        fonts = style.find(f"{W}rPr/{W}rFonts")
        assert {fonts.get(f"{W}{a}") for a in ("eastAsia", "ascii", "hAnsi")} == {font}, name  # digits alike
        assert not [a for a in fonts.attrib if "heme" in a], name  # a theme font would win over the named one
        assert style.find(f"{W}rPr/{W}lang").get(f"{W}eastAsia") == "zh-CN", name
    defaults = styles.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr")
    assert not [a for a in defaults.find(f"{W}rFonts").attrib if "heme" in a]
    assert defaults.find(f"{W}lang").get(f"{W}eastAsia") == "zh-CN" and defaults.find(f"{W}lang").get(f"{W}val") == "zh-CN"
    assert not [f for f in styles.iter(f"{W}rFonts") if [a for a in f.attrib if "heme" in a]]  # nor any other style
    settings = xml(word_2020, "word/settings.xml")
    assert settings.find(f"{W}themeFontLang").get(f"{W}eastAsia") == "zh-CN"
    assert settings.find(f"{W}evenAndOddHeaders") is not None


def test_the_font_table_gives_each_role_its_fallbacks_open_faces_last(word_2020):
    table = {f.get(f"{W}name"): f for f in xml(word_2020, "word/fontTable.xml").iter(f"{W}font")}
    expected = {"仿宋_GB2312": ("仿宋", "Noto Serif CJK SC"), "黑体": ("SimHei", "Noto Sans CJK SC"),
                "楷体_GB2312": ("楷体", "LXGW WenKai"), "方正小标宋简体": ("FZXiaoBiaoSong-B05S", "Noto Serif CJK SC")}
    for name, (windows, open_face) in expected.items():
        alternatives = table[name].find(f"{W}altName").get(f"{W}val").split(",")
        assert windows in alternatives and open_face in alternatives, name
        assert alternatives.index(windows) < alternatives.index(open_face)  # the office's faces first
        assert table[name].find(f"{W}charset").get(f"{W}val") == "86"  # GB2312: Word substitutes within Chinese faces
    assert table["仿宋_GB2312"].find(f"{W}panose1").get(f"{W}val") == "02010609030101010101"
    assert not [n for n in table if "ＭＳ" in n or n in ("Cambria", "Calibri")]  # nothing of the template's Japanese fonts


def test_document_properties_name_the_report_and_the_body_and_no_tool(word_2020):
    import docx

    core = docx.Document(word_2020).core_properties
    assert core.title == "广州市从化区教育局2020年度法治政府建设情况报告"
    assert core.author == core.last_modified_by == "广州市从化区教育局"
    assert core.created.date() == core.modified.date() == dt.datetime.now(dt.timezone.utc).date()  # built today
    assert core.comments == "" and core.revision == 1
    with zipfile.ZipFile(word_2020) as package:
        names = package.namelist()
        properties = package.read("docProps/core.xml") + package.read("docProps/app.xml")
    assert not [n for n in names if "thumbnail" in n or "customXml" in n or "stylesWithEffects" in n]
    for word in (b"python-docx", b"Macintosh", b"Normal.dotm", b"2013-12-23", b"<Pages>"):
        assert word not in properties, word
    assert b"<Company>\xe5\xb9\xbf\xe5\xb7\x9e\xe5\xb8\x82\xe4\xbb\x8e\xe5\x8c\x96\xe5\x8c\xba\xe6\x95\x99\xe8\x82\xb2\xe5\xb1\x80</Company>" in properties


def test_the_word_page_is_gb_t_9704s(word_2020):
    document, styles = xml(word_2020, "word/document.xml"), xml(word_2020, "word/styles.xml")
    grid = document.find(f".//{W}sectPr/{W}docGrid")
    assert grid.get(f"{W}type") == "lines" and grid.get(f"{W}linePitch") == "580"  # 22 lines of 28.99 pt
    normal = next(s for s in styles.iter(f"{W}style") if s.get(f"{W}styleId") == "Normal")
    assert normal.find(f"{W}pPr/{W}jc").get(f"{W}val") == "both"  # justified
    assert normal.find(f"{W}pPr/{W}ind").get(f"{W}firstLineChars") == "200"  # two characters in
    assert normal.find(f"{W}pPr/{W}spacing").get(f"{W}line") == "580"
    # 15.79 pt a character against 16 pt: 4.2 twentieths closer, written -6 (a hair of slack for LibreOffice).
    assert normal.find(f"{W}rPr/{W}spacing").get(f"{W}val") == "-6"
    levels = {s.get(f"{W}styleId"): s.find(f"{W}pPr/{W}outlineLvl") for s in styles.iter(f"{W}style")}
    assert (levels["Title"].get(f"{W}val"), levels["Heading1"].get(f"{W}val"), levels["Heading2"].get(f"{W}val")) == ("0", "0", "1")


def test_page_numbers_are_four_size_dashes_at_the_outside_edge(word_2020):
    import docx

    section = docx.Document(word_2020).sections[0]
    for footer, side in ((section.footer, "right"), (section.even_page_footer, "left")):
        paragraph = footer.paragraphs[0]
        assert paragraph.alignment.name.lower() == side
        assert "".join(t.text for t in paragraph._p.iter(f"{W}t")) == "— 1 —"  # the field's result shows 1
        assert "PAGE" in "".join(t.text for t in paragraph._p.iter(f"{W}instrText"))
        effective = paragraph.style.font.size
        assert effective.pt == 14 and all(run.font.size in (None, effective) for run in paragraph.runs)  # 4号, digit too


def test_word_tables_are_set_for_print(word_2020):
    import docx

    tables = docx.Document(word_2020).tables
    aid = next(t for t in tables if t.rows[0].cells[-1].text == "资助金额（元）")
    assert aid._tbl.tblPr.find(f"{W}tblCellMar") is not None  # padding
    header, total = aid.rows[0], aid.rows[-1]
    assert header._tr.trPr.find(f"{W}tblHeader") is not None and all(r.bold for c in header.cells for p in c.paragraphs for r in p.runs)
    assert [c.text for c in total.cells] == ["合计", "2618", "697,530"]  # 1386 + 1232; 369,281 + 328,249
    assert all(r.bold for c in total.cells for p in c.paragraphs for r in p.runs)
    assert total.cells[2].paragraphs[0].alignment.name == "RIGHT"  # figures right-aligned
    for table in tables:  # a unit broken from its label goes under it whole: never （人/次）
        for cell in table.rows[0].cells:
            assert not re.search(r"（[^）]*$", cell.paragraphs[0].runs[0].text)


def test_a_table_too_wide_for_the_page_has_a_landscape_page_in_word(wide):
    import docx

    sections = docx.Document(wide / "report.docx").sections
    assert [s.orientation.name for s in sections] == ["PORTRAIT", "LANDSCAPE", "PORTRAIT"]
    assert round(sections[1].page_width.mm) == 297 and round(sections[1].page_height.mm) == 210


# --- 2. Word as LibreOffice draws it ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def drawn_2020(word_2020, tmp_path_factory) -> Path:
    return libreoffice_pdf(word_2020, tmp_path_factory.mktemp("lo"))


def test_libreoffice_draws_the_word_version_in_simplified_chinese_forms_only(drawn_2020):
    names = [row.split()[0].split("+")[-1] for row in poppler("pdffonts", str(drawn_2020)).splitlines()[2:]]
    assert not [n for n in names if re.search(r"DejaVu|Liberation", n)], names  # digits drawn in the Chinese face
    faces = drawn_faces(drawn_2020)
    assert faces and all(found for found in faces.values()), faces  # every Chinese glyph is a face installed here
    for font, found in faces.items():
        assert found and all(f.endswith("SC") for f in found), (font, found)  # 令 as the mainland writes it, not JP/TC


def test_with_the_role_aliases_libreoffice_draws_body_and_headings_in_their_own_faces(word_2020, tmp_path):
    import os
    import subprocess
    import sys

    home = tmp_path / "config"  # the aliases go to this test's own folder, not the machine user's
    subprocess.run([sys.executable, "-m", "annual_review", "fonts", "--aliases"], check=True, capture_output=True,
                   env={**os.environ, "XDG_CONFIG_HOME": str(home)}, cwd=CONFIG.parent)
    aliases = home / "fontconfig" / "conf.d" / "70-annual-review.conf"
    assert "<family>仿宋_GB2312</family>" in aliases.read_text(encoding="utf-8")
    fontconfig = tmp_path / "fonts.conf"
    fontconfig.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd"><fontconfig>'
                          f'<include ignore_missing="yes">/etc/fonts/fonts.conf</include><include>{aliases}</include>'
                          "</fontconfig>", encoding="utf-8")
    drawn = libreoffice_pdf(word_2020, tmp_path, fontconfig=fontconfig)
    names = {row.split()[0].split("+")[-1] for row in poppler("pdffonts", str(drawn)).splitlines()[2:]}
    assert any(n.startswith("NotoSerifCJK") for n in names)  # title and body (仿宋, 小标宋)
    assert any(n.startswith("NotoSansCJK") for n in names)  # level-1 headings, tables (黑体)
    assert any(n.startswith("LXGWWenKai") for n in names)  # level-2 headings (楷体)
    assert not [n for n in names if re.search(r"DejaVu|Liberation", n)]
    for font, found in drawn_faces(drawn).items():
        assert all(f.endswith("SC") or f == "LXGW WenKai" for f in found), (font, found)


# --- 3. PDF pages ------------------------------------------------------------------------------------------

def _outside(found: list[dict]) -> list[dict]:
    """Words past the text block's right or left edge (on a landscape page, that page's own)."""
    return [w for w in found if w["y1"] < w["height"] - BOTTOM and (w["x1"] > w["width"] - RIGHT + 1 or w["x0"] < LEFT - 1)]


@pytest.mark.parametrize("which", ["2020", "2021", "eight columns"])
def test_no_word_is_printed_beyond_the_text_block(which, built_2020, built_2021, wide):
    pdf = {"2020": built_2020["out"] / "2020", "2021": built_2021, "eight columns": wide}[which] / "report.pdf"
    found = words(pdf)
    assert found and _outside(found) == []


def test_an_eight_column_table_turns_its_pages_landscape_whole(wide):
    found = words(wide / "report.pdf")
    landscape = sorted({w["page"] for w in found if w["width"] > w["height"]})
    assert landscape and landscape[0] == 2  # the table starts on a page of its own
    last_column = [w for w in found if w["text"] == "处理结果"]
    assert {w["page"] for w in last_column} == set(landscape)  # its last column on every page it runs over
    assert any(w["text"] == "XZ2021-030" for w in found if w["page"] == landscape[-1])  # no row lost


def test_a_table_too_wide_even_for_landscape_is_refused_naming_it(tmp_path):
    root = wide_body(tmp_path, columns=20, rows=4)
    result = run_cli("build", "--format", "html,pdf", "--output-dir", str(tmp_path / "out"), cwd=root)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Too wide for the page even in landscape" in result.stderr and "“2021年cases登记”" in result.stderr
    assert not (tmp_path / "out" / "2021" / "report.pdf").exists()


def _page_numbers(found: list[dict]) -> dict[int, dict]:
    return {w["page"]: w for w in found if w["y0"] > w["height"] - BOTTOM and w["text"].isdigit()}


def test_page_numbers_sit_at_the_outside_edge(built_2020):
    found = words(built_2020["out"] / "2020" / "report.pdf")
    numbers = _page_numbers(found)
    assert sorted(numbers) == sorted({w["page"] for w in found}) and all(int(w["text"]) == p for p, w in numbers.items())
    for page, number in numbers.items():
        width = number["width"]
        if page % 2:  # odd: right, one character (14 pt) and a dash in from the text block's right edge
            assert width - RIGHT - 60 < number["x1"] < width - RIGHT
        else:
            assert LEFT < number["x0"] < LEFT + 60


def _body_lines(pdf: Path) -> list[list[dict]]:
    """The lines of body text (16 pt, 23 pt high as poppler boxes them), their words together."""
    lines: dict[tuple, list[dict]] = {}
    for w in words(pdf):
        if 20 < w["y1"] - w["y0"] < 26 and TOP < w["y0"] < w["height"] - BOTTOM:
            lines.setdefault((w["page"], round(w["y0"])), []).append(w)
    return [sorted(ws, key=lambda w: w["x0"]) for ws in lines.values()]


def test_body_lines_hold_28_characters_justified_22_to_a_page(built_2020):
    lines = [l for l in _body_lines(built_2020["out"] / "2020" / "report.pdf") if abs(l[0]["x0"] - LEFT) < 8]
    assert len(lines) > 60
    full = [l for l in lines if l[-1]["x1"] > l[0]["width"] - RIGHT - 12]
    assert len(full) > 50
    ends = sorted(l[-1]["x1"] for l in full)
    assert ends[-1] - ends[len(ends) // 10] < 2  # justified: 90 % of full lines end within 2 pt of each other
    characters = [sum(1 if ord(c) > 0x2E80 else 0.5 for w in l for c in w["text"]) for l in full]
    assert sum(27 <= c <= 28 for c in characters) / len(characters) > 0.8
    by_page: dict[int, list[float]] = {}
    for line in lines:
        by_page.setdefault(line[0]["page"], []).append(line[0]["y0"])
    steps = [round(b - a, 1) for ys in by_page.values() for a, b in zip(sorted(ys), sorted(ys)[1:]) if b - a < 35]
    assert steps and max(set(steps), key=steps.count) == pytest.approx(28.99, abs=0.1)  # 225 mm / 22 lines


def test_the_pdf_names_the_report_and_the_body_not_the_tool(built_2020):
    info = poppler("pdfinfo", str(built_2020["out"] / "2020" / "report.pdf"))
    assert re.search(r"^Title:\s+广州市从化区教育局2020年度法治政府建设情况报告$", info, re.M)
    assert re.search(r"^Author:\s+广州市从化区教育局$", info, re.M)
    for field in ("Creator", "Producer", "CreationDate", "ModDate"):
        assert not re.search(rf"^{field}:", info, re.M), field


def _laid_out(report: Path):
    from annual_review.build.pdf import layout

    return layout(report.read_text(encoding="utf-8"))[0]


@pytest.mark.parametrize("which", ["2020", "2021"])
def test_no_table_strands_its_caption_header_or_a_row_and_no_page_is_a_third_empty(which, built_2020, built_2021):
    from annual_review.build.pdf import _blocks, _content, _gaps

    report = {"2020": built_2020["out"] / "2020", "2021": built_2021}[which] / "report.html"
    document = _laid_out(report)
    for number, page in enumerate(document.pages, 1):
        blocks = _blocks(page)
        by_table: dict[str, list] = {}
        for block in blocks:
            if block.tag in ("tr", "line") and block.ident.startswith("t-"):
                by_table.setdefault(block.ident, []).append(block)
        for ident, parts in by_table.items():
            rows = [b for b in parts if b.tag == "tr"]
            # A table's part on a page: a caption alone never; at least the header and two rows, or two rows and
            # the 合计 (the header repeats where it continues).
            assert len(rows) >= 3, (which, number, ident, len(rows))
    assert [(n + 1, round(free)) for n, free, _ in _gaps(document)] == []
    top, bottom, _ = _content(document.pages[0])
    assert bottom - top > 800  # (the measures above are in CSS px of an A4 page)


# --- 4. a phone page that fits --------------------------------------------------------------------------------

def test_on_a_phone_nothing_is_wider_than_the_screen(browser, built_2020, built_2021):
    for report in (built_2020["report"], built_2021 / "report.html"):
        page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        page.goto(report.as_uri(), wait_until="load")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing scrolls the page sideways
        widths = page.evaluate("[...document.images].map(i => i.getBoundingClientRect().width)")
        assert widths and max(widths) <= 390
        # Every table wider than its box scrolls inside it, and a keyboard can reach it.
        boxes = page.evaluate("""[...document.querySelectorAll('.ar-table')].map(b => [b.scrollWidth > b.clientWidth,
                                 b.tabIndex, b.getAttribute('role'), b.getAttribute('aria-label')])""")
        assert any(wide for wide, *_ in boxes) and all(t == 0 and r == "region" and label for _, t, r, label in boxes)
        # Tapped, a chart opens at its full size, scrolled in its own box; Back returns it.
        chart = page.locator(".ar-chart a.ar-zoom").first
        chart.click()
        natural, shown, box = page.evaluate("""(() => { const f = document.querySelector('.ar-chart:target');
            const i = f.querySelector('img'); return [i.naturalWidth, i.getBoundingClientRect().width, f.scrollWidth]; })()""")
        assert shown > 390 and box > 390
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.close()


def test_the_title_breaks_between_words_on_a_phone(browser, built_2020):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(built_2020["report"].as_uri(), wait_until="load")
    words_ = page.evaluate("""[...document.querySelectorAll('.ar-title h1 .ar-w')].map(w =>
        [w.textContent, new Set([...w.getClientRects()].map(r => Math.round(r.top))).size])""")
    lines = page.evaluate("""new Set([...document.querySelectorAll('.ar-title h1 .ar-w')].map(w =>
        Math.round(w.getBoundingClientRect().top))).size""")
    page.close()
    assert lines >= 2  # it does break on a phone
    assert "".join(w for w, _ in words_) == "广州市从化区教育局2020年度法治政府建设情况报告"
    assert [w for w, n in words_ if n > 1] == []  # but never inside a word
    assert "法治" in [w for w, _ in words_]


@pytest.mark.parametrize("width", [1280, 390])
def test_axe_finds_no_serious_or_critical_violation(browser, built_2020, tmp_path_factory, width):
    """axe-core (WCAG 2.1 A and AA) on the report and on the page listing every year's report."""
    from axe_playwright_python.sync_playwright import Axe

    index = built_2020["out"] / "index.html"
    for url in (built_2020["report"].as_uri(), index.as_uri()):
        context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
        page = context.new_page()
        page.goto(url, wait_until="load")
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
        serious = [(v["id"], v["impact"], len(v["nodes"])) for v in results.response["violations"]
                   if v["impact"] in ("serious", "critical")]
        context.close()
        assert serious == [], (url, width, serious)


# --- 5. figures written one way -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def in_wan(tmp_path_factory) -> str:
    """The 2020 report of a copy of the project whose config writes money in 万元."""
    root = tmp_path_factory.mktemp("wan")
    shutil.copytree(NOTEBOOKS, root / "notebooks")
    shutil.copytree(DATA, root / "data", ignore=lambda folder, names: ["2021"] if Path(folder) == DATA else [])
    config = CONFIG.read_text(encoding="utf-8")
    assert "\n  money: 元" in config
    config = config.replace("\n  money: 元", "\n  money: 万元")
    (root / "report.yml").write_text(config, encoding="utf-8")
    result = run_cli("build", "--format", "html", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return (root / "outputs" / "2020" / "report.html").read_text(encoding="utf-8")


def test_money_follows_the_configs_rule_in_tables_phrases_and_charts(built_2020, in_wan):
    from conftest import squash, visible_text

    yuan, wan = squash(visible_text(built_2020["html"])), squash(visible_text(in_wan))
    # 元: thousands separators in tables and comparisons; 万元: two places, the unit in the header.
    assert "合计2618697,530" in yuan and "资助金额（元）" in yuan
    assert "合计261869.75" in wan and "资助金额（万元）" in wan  # 697,530 元 = 69.753 万元
    assert "增加45,230元、增长6.9%" in yuan  # 697,530 − 652,300
    assert "增加4.52万元、增长6.9%" in wan  # 45,230 元 = 4.523 万元
    assert "学前教育资助金额：2019年652,300元，2020年697,530元" in built_2020["html"]  # the trend chart's alt text
    assert "学前教育资助金额：2019年65.23万元，2020年69.75万元" in in_wan
    assert "资助资金共近70万元" in yuan and "资助资金共近70万元" in wan  # the author's own words stay as written
