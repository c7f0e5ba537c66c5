"""Figures as data (#23): beside each report, figures.csv (UTF-8 with a BOM) and figures.json hold every figure it
publishes with its source; the draft's appendix shows the same records. Expected values written by hand from the
2020 report (tests/reference/2020-report.txt) and its registers' row counts."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil

import pytest

from conftest import run_cli


def _rows(path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


@pytest.fixture(scope="module")
def published(built_2020):
    folder = built_2020["out"] / "2020"
    return {"csv": folder / "figures.csv", "json": folder / "figures.json", "rows": _rows(folder / "figures.csv"),
            "html": built_2020["html"], "index": (built_2020["out"] / "index.html").read_text(encoding="utf-8")}


def _one(rows, **wanted) -> dict:
    found = [r for r in rows if all(r[k] == v for k, v in wanted.items())]
    assert len(found) == 1, (wanted, found)
    return found[0]


def test_every_figure_of_the_2020_report_is_published_as_data_with_its_register(published):
    raw = published["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel and WPS open it as UTF-8
    rows = published["rows"]
    expected = [  # printed, value, register, aggregation or filter, rows counted
        ("2600多", "2618", "学前教育资助发放登记", "资助人次合计", "48"),
        ("近70万", "697530", "学前教育资助发放登记", "资助金额合计", "48"),
        ("424", "424", "生源地信用助学贷款办理登记", "", "424"),
        ("150多", "156", "校外培训机构常态化治理行动登记", "出动人次合计", "27"),
        ("5", "5", "校外培训机构常态化治理行动登记", "责令整改通知书合计", "27"),
        ("8", "8", "校外培训机构常态化治理行动登记", "规范培训业务承诺书合计", "27"),
    ]
    text = [r for r in rows if r["kind"] == "text"]
    for printed, value, register, aggregation, counted in expected:
        row = _one(text, printed=printed)
        assert (row["value"], row["register"], row["aggregation"], row["rows"], row["year"]) == (
            value, register, aggregation, counted, "2020"), row
    assert _one(text, printed="3")["filters"] == "组织层级为区级" and _one(text, printed="3")["rows"] == "3"
    assert _one(text, printed="24")["filters"] == "组织层级为镇街级"
    assert _one(text, printed="1至10月")["filters"] == "行动日期所在月份"
    approvals = _one(text, register="民办学校行政许可决定登记")
    assert approvals["printed"] == "1所九年一贯制民办学校筹设,1所民办幼儿园筹设,10所民办幼儿园设立,17所民办教育培训机构设立"
    # The key figures table: each cell its row's label and its column, its unit from the label.
    aided = _one(rows, kind="table", label="学前教育资助人次｜2020年")
    assert (aided["printed"], aided["value"], aided["register"]) == ("2618", "2618", "主要指标汇总")
    approved = _one(rows, kind="table", label="民办学校筹设设立批准数（所）｜2020年")
    assert (approved["value"], approved["unit"]) == ("29", "所")  # 1 + 1 + 10 + 17
    charts = [r for r in rows if r["kind"] == "chart"]
    assert {"学前教育资助发放登记", "民办学校行政许可决定登记", "校外培训机构常态化治理行动登记"} <= {r["register"] for r in charts}


def test_the_json_holds_the_same_records(published):
    document = json.loads(published["json"].read_text(encoding="utf-8"))
    assert document["publisher"] == "广州市从化区教育局" and document["year"] == 2020
    assert [{k: str(v) for k, v in r.items()} for r in document["figures"]] == published["rows"]


def test_the_report_and_the_index_link_them(published):
    assert '<a href="figures.csv">figures.csv</a>' in published["html"]
    assert 'href="2020/figures.csv"' in published["index"] and 'href="2020/figures.json"' in published["index"]


def test_the_drafts_appendix_and_the_csv_agree(built_2020, tmp_path):
    shutil.copytree(built_2020["out"] / "2020", tmp_path / "2020")
    result = run_cli("build", "--year", "2020", "--format", "html", "--draft", "--output-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "2020" / "report.html").read_text(encoding="utf-8")
    appendix = re.findall(r'<tr id="src-(\d+)"><td><a href="#fig-\d+">\d+</a></td><td>([^<]*)</td><td>([^<]*)</td></tr>', page)
    rows = _rows(tmp_path / "2020" / "figures.csv")
    assert len(appendix) == len(rows) > 40
    for (number, shown, source), row in zip(appendix, rows):
        assert (number, source) == (row["number"], row["source"])
        assert shown == (row["printed"] or f"图：{row['label']}")


def test_personal_data_in_the_figures_is_caught():
    from annual_review.build.privacy import scan_published

    found = scan_published({"figures.csv": "number,label\r\n1,联系人电话13812345678\r\n".encode("utf-8-sig")})
    assert any("figures.csv" in str(f) for f in found)


def test_the_dataset_metadata_is_in_the_head_only_when_the_config_asks(built_2020, tmp_path):
    from conftest import copy_2020_project

    assert "application/ld+json" not in built_2020["html"]  # off by default
    root = copy_2020_project(tmp_path)
    config = root / "report.yml"
    config.write_text(config.read_text(encoding="utf-8") + "dataset_metadata: true\n", encoding="utf-8")
    result = run_cli("build", "--year", "2020", "--format", "html", cwd=root)
    assert result.returncode == 0, result.stderr
    page = (root / "outputs" / "2020" / "report.html").read_text(encoding="utf-8")
    head = page.split("</head>")[0]
    found = re.findall(r'<script type="application/ld\+json">(.*?)</script>', head, flags=re.S)
    assert len(found) == 1 and "<" not in found[0]
    dataset = json.loads(found[0])
    assert dataset["@type"] == "Dataset" and dataset["temporalCoverage"] == "2020"
    assert dataset["creator"] == {"@type": "GovernmentOrganization", "name": "广州市从化区教育局"}
    assert dataset["name"] == "广州市从化区教育局2020年度法治政府建设情况报告：数据"
    assert [d["contentUrl"] for d in dataset["distribution"]] == ["figures.csv", "figures.json"]


def test_a_dataset_metadata_that_is_not_yes_or_no_is_refused(tmp_path):
    from conftest import copy_2020_project

    root = copy_2020_project(tmp_path)
    config = root / "report.yml"
    config.write_text(config.read_text(encoding="utf-8") + "dataset_metadata: maybe\n", encoding="utf-8")
    result = run_cli("check", cwd=root)
    assert result.returncode != 0 and "dataset_metadata: 'maybe' must be true or false" in result.stderr
