"""The 2020 report rebuilt from data reads as the published one: every heading, every figure, every line."""

import re
from html.parser import HTMLParser

import pytest

from conftest import REFERENCE, plain, visible_text

HEADINGS = [
    "一、主要工作措施和成效",
    "(一)加强党对法治政府建设的领导",
    "(二)大力推行权力清单、责任清单、负面清单制度并实行动态管理",
    "(三)全面推进政务公开、加强行政复议工作",
    "(四)加强行政问责规范化、制度化建设",
    "(五)健全依法化解纠纷机制",
    "(六)加强对工作人员的法治教育培训、法治能力考查测试",
    "(七)校外培训机构专项治理进入常态化管理",
    "二、主要存在问题",
    "三、下一阶段工作措施",
]
FIGURES = [
    "1所九年一贯制民办学校筹设",
    "1所民办幼儿园筹设",
    "10所民办幼儿园设立",
    "17所民办教育培训机构设立",
    "2600多人次",
    "近70万元",
    "424多个",
    "3次",
    "24次",
    "150多人次",
    "5份",
    "8份",
]


@pytest.fixture(scope="module")
def text(built_2020):
    """The report's wording, punctuation folded: the published text has half-width （一） and ，."""
    return plain(visible_text(built_2020["html"]))


def test_the_build_says_where_the_report_is(built_2020):
    assert built_2020["report"].is_file()
    assert str(built_2020["report"]) in built_2020["stdout"]


def test_title_names_the_body_and_year(built_2020, text):
    assert "<title>广州市从化区教育局2020年度法治政府建设情况报告</title>" in built_2020["html"]
    assert text.startswith("广州市从化区教育局2020年度法治政府建设情况报告")


@pytest.mark.parametrize("heading", HEADINGS)
def test_every_heading_of_the_published_report_is_a_numbered_heading(built_2020, heading):
    headings = re.findall(r"<h[2-6][^>]*>(.*?)</h[2-6]>", built_2020["html"], flags=re.S)
    assert any(plain(re.sub("<[^>]+>", "", h)).startswith(heading) for h in headings)


@pytest.mark.parametrize("figure", FIGURES)
def test_every_figure_of_the_published_report_appears(text, figure):
    assert figure in text


def test_every_line_of_the_published_report_appears_in_order(text):
    lines = REFERENCE.read_text(encoding="utf-8").splitlines()
    assert lines[-1] == "返回顶部"  # the web page's "back to top" link, not part of the report
    position = 0
    for line in lines[:-1]:
        wanted = plain(line)
        if not wanted:
            continue
        found = text.find(wanted, position)
        assert found >= 0, f"not found (in order) in the report: {line[:60]}…"
        position = found + len(wanted)


def test_no_code_prompts_or_stray_output(built_2020, text):
    html = built_2020["html"]
    for leak in ("import annual_review", "ar.show_", "load_table", "In [", "Out[", "Traceback", "&lt;Figure"):
        assert leak not in html
    assert "<pre" not in html


def test_page_is_chinese_and_self_contained(built_2020):
    html = built_2020["html"]
    assert re.search(r'<html[^>]*\blang="zh-CN"', html)
    # Nothing is fetched when the file is opened offline: no remote scripts, styles, fonts or images.
    assert not re.search(r'(?:src|href)\s*=\s*["\']?(?:https?:)?//', html, flags=re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", html, flags=re.I)
    assert "@import" not in html
    assert "<script" not in html


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.ids, self.links = [], set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "img":
            self.images.append(attrs)
        if tag == "a" and attrs.get("href", "").startswith("#s-"):  # the contents list's links to sections
            self.links.append(attrs["href"][1:])


def test_charts_are_embedded_with_alt_text(built_2020):
    parser = _Images()
    parser.feed(built_2020["html"])
    assert len(parser.images) == 4  # key-figure trends, licences, pre-school aid, inspections
    for image in parser.images:
        assert image["src"].startswith("data:image/png;base64,")
        assert image.get("alt")
    alts = " ".join(image["alt"] for image in parser.images)
    assert "民办幼儿园" in alts and "镇街级" in alts


def test_contents_links_reach_their_sections(built_2020):
    parser = _Images()
    parser.feed(built_2020["html"])
    assert len(parser.links) == len(HEADINGS) + 1  # and 主要指标, the unnumbered overview
    assert all(target in parser.ids for target in parser.links)


def test_tables_show_the_registers_totals(text):
    # 2020年民办学校行政许可审批情况: 1 + 1 + 10 + 17 = 29 approvals
    assert "2020年民办学校行政许可审批情况" in text
    assert "合计29" in text
    # 2020年校外培训机构常态化治理行动情况: 3 + 24 actions, 5 notices, 8 pledges
    assert re.search(r"合计27\d+58", text)


def test_executed_notebooks_are_kept(built_2020):
    sections = sorted(p.name for p in (built_2020["out"] / "2020" / "sections").glob("*.ipynb"))
    assert sections[0] == "00-opening.ipynb" and sections[-1] == "90-next-steps.ipynb"
    assert len(sections) == 11


def test_the_page_carries_the_chinese_glyphs_it_uses(built_2020):
    """On a machine with no Chinese font the report still reads: it embeds a subset of its font, as a last resort."""
    import base64
    import io

    from fontTools.ttLib import TTFont

    html = built_2020["html"]
    match = re.search(r'@font-face \{ font-family: "AR Report CJK";.*?url\(data:font/woff;base64,([A-Za-z0-9+/=]+)\)', html)
    assert match, "no embedded font"
    cmap = TTFont(io.BytesIO(base64.b64decode(match.group(1)))).getBestCmap()
    shown = {c for c in visible_text(html) if ord(c) > 127 and not c.isspace()}
    assert shown and all(ord(c) in cmap for c in shown)
    # …and the reader's own fonts are named before it: the config's, then open Simplified-Chinese faces.
    assert re.search(r'--body-font: "仿宋_GB2312", [^;]*"FangSong"[^;]*"Noto Serif CJK SC"[^;]*"AR Report CJK", serif;', html)
    assert all(ord(c) in cmap for c in "0123456789%") # digits in the same face as the Chinese around them
