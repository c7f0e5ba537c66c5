"""No personal data is published by accident: ID numbers, mobile numbers and e-mails stop the build."""


import pytest

from annual_review.build.privacy import scan, valid_id_number
from conftest import run_cli

# GB 11643 sample number from the standard's worked example, and the same with a wrong check digit.
VALID_ID = "11010519491231002X"
WRONG_CHECK = "110105194912310021"


def test_id_check_digit():
    assert valid_id_number(VALID_ID)
    assert not valid_id_number(WRONG_CHECK)


@pytest.mark.parametrize(
    "text, kinds",
    [
        (f"联系人身份证{VALID_ID}。", ["身份证号码 (resident ID number)"]),
        (f"编号{WRONG_CHECK}。", []),  # 18 digits, but not an ID number: its check digit is wrong
        ("咨询电话13812345678。", ["手机号码 (mobile number)"]),
        ("电话 +86 138-1234-5678", ["手机号码 (mobile number)"]),
        ("邮箱 jyj@example.gov.cn", ["电子邮箱 (e-mail address)"]),
        ("2020年审批了17所,资助资金近70万元,文号从教许〔2020〕12号,编号SD20200424", []),
    ],
)
def test_scan_finds_personal_data_and_nothing_else(text, kinds):
    assert [f.kind for f in scan(text, "here")] == kinds


def test_findings_are_masked_in_messages():
    finding = scan("13812345678", "x.md, line 3")[0]
    assert str(finding) == "x.md, line 3: 手机号码 (mobile number) 138*****678"



def test_the_build_refuses_personal_data_in_a_narrative_naming_file_and_line(project):
    path = project / "data" / "2020" / "narrative" / "problems.md"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] += f"联系人身份证号{VALID_ID},手机13812345678。"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_cli("build", cwd=project)
    assert result.returncode == 2
    where = path.relative_to(project)  # as the project's own files are named: relative to it
    assert f"{where}, line 3: 身份证号码" in result.stderr and f"{where}, line 3: 手机号码" in result.stderr
    assert VALID_ID not in result.stderr  # the message itself does not repeat it
    assert not (project / "outputs" / "2020" / "report.html").exists()


def test_the_config_can_allow_it_explicitly(project):
    path = project / "data" / "2020" / "narrative" / "problems.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n监督电话13812345678。\n", encoding="utf-8")
    config = project / "report.yml"
    config.write_text(config.read_text(encoding="utf-8") + "allow_personal_data: true\n", encoding="utf-8")
    result = run_cli("build", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "13812345678" in (project / "outputs" / "2020" / "report.html").read_text(encoding="utf-8")
