"""The PDF, read back through poppler as a reader's PDF viewer would: text in order, fonts embedded, pages numbered."""

import re
import subprocess

import pytest

from test_report import FIGURES, HEADINGS


@pytest.fixture(scope="module")
def pdf(built_2020):
    return built_2020["out"] / "2020" / "report.pdf"  # the file the build wrote


def poppler(*args: str) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, check=True).stdout


def test_headings_and_figures_can_be_found_in_order(pdf):
    import unicodedata

    text = unicodedata.normalize("NFKC", re.sub(r"\s+", "", poppler("pdftotext", "-enc", "UTF-8", str(pdf), "-")))
    assert text.startswith("广州市从化区教育局2020年度法治政府建设情况报告")
    position = 0
    for heading in HEADINGS:
        position = text.find(heading, position)
        assert position >= 0, heading
    position = 0
    for figure in FIGURES:  # in the order the published report gives them
        position = text.find(figure, position)
        assert position >= 0, figure


def test_chinese_fonts_are_embedded(pdf):
    rows = poppler("pdffonts", str(pdf)).splitlines()[2:]
    cjk = [row for row in rows if "CJK" in row]
    assert cjk and all(" yes yes " in row for row in rows)  # every font embedded (and subset)


def test_a4_pages_numbered_in_the_footer(pdf):
    info = poppler("pdfinfo", str(pdf))
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    assert 5 <= pages <= 20
    assert re.search(r"Page size:\s+595\.\d* x 841\.\d* pts \(A4\)", info)
    for page in range(1, pages + 1):  # every page, the first included (— 1 —)
        text = poppler("pdftotext", "-f", str(page), "-l", str(page), "-enc", "UTF-8", str(pdf), "-")
        assert re.search(rf"—\s*{page}\s*—", text)


def test_pages_render(pdf, tmp_path):
    poppler("pdftoppm", "-r", "30", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page"))
    assert (tmp_path / "page-01.png").stat().st_size > 1000
