"""Registers as offices really keep them (issue #11): every workbook Excel, WPS and LibreOffice save, read right or refused.

Real files throughout: workbooks written with openpyxl as Excel would save them, and
.xls/.ods files saved by LibreOffice (tests/fixtures/workbooks/, made by its make.py).
Expected totals are the published 2020 figures: 2618 children aided with 697530 元,
424 students' loans.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from annual_review.registers import reading as data
from conftest import DATA, FIXTURES
from test_inputs import data_dir, validate  # noqa: F401 - the same fixture and command as the bad-input corpus

YEAR = 2020
WORKBOOKS = FIXTURES / "workbooks"
AID = "学前教育资助发放登记"
LOANS = "生源地信用助学贷款办理登记"


def folder(data_dir: Path) -> Path:
    return data_dir / str(YEAR)


def aid_totals(data_dir: Path) -> tuple[int, int]:
    aid = data.load_table(data_dir, YEAR, "preschool_aid")
    return int(aid["children"].sum()), int(aid["amount_yuan"].sum())


def aid_read_whole(data_dir: Path, capsys) -> str:
    """Validate the year, insist it passes with the report's aid figures (2618 children, 697,530 yuan); its notes."""
    code, output = validate(data_dir, capsys)
    assert code == 0, output
    assert aid_totals(data_dir) == (2618, 697530)
    return output


def sheet_from_csv(book, title: str, csv_name: str, header: list[str] | None = None):
    """A sheet holding a shipped CSV's rows (numbers as numbers, dates as dates), as a clerk's register would."""
    frame = pd.read_csv(DATA / "2020" / csv_name, dtype=str, keep_default_na=False)
    sheet = book.create_sheet(title)
    sheet.append(header or list(frame.columns))
    for record in frame.itertuples(index=False):
        sheet.append([_typed(v) for v in record])
    return sheet


def _typed(value: str):
    if re.fullmatch(r"\d+", value):
        return int(value)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.date.fromisoformat(value)
    return value


def aid_workbook(data_dir: Path, shape=None, *, name: str = "tables.xlsx") -> Path:
    """The pre-school aid register as a sheet of the year's workbook (its CSV removed), shaped by ``shape``."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    sheet = sheet_from_csv(book, AID, "preschool_aid.csv")
    if shape:
        shape(book, sheet)
    (folder(data_dir) / "preschool_aid.csv").unlink()
    path = folder(data_dir) / name
    book.save(path)
    return path


# --- 1. what the clerk sees: visible sheets only ---------------------------------------------------

def test_a_hidden_sheet_named_like_the_table_is_not_read(data_dir, capsys):
    def old_copy(book, sheet):
        old = book.create_sheet("preschool_aid")  # the English name: it used to win
        old.append(["kindergarten", "term", "family_category", "children", "amount_yuan"])
        old.append(["旧幼儿园", "春季学期", "贫困家庭的幼儿", 1, 100])
        old.sheet_state = "hidden"

    aid_workbook(data_dir, old_copy)
    output = aid_read_whole(data_dir, capsys)
    assert "hidden sheet 'preschool_aid' not read" in output


def test_after_move_or_copy_the_visible_copy_is_read_not_the_hidden_original(data_dir, capsys):
    def moved(book, sheet):
        sheet.title = f"{AID} (2)"  # Excel names the copy; the clerk hid the original and edits the copy
        original = book.copy_worksheet(sheet)
        original.title = AID
        original["D2"] = 1  # last month's figure
        original.sheet_state = "hidden"

    aid_workbook(data_dir, moved)
    output = aid_read_whole(data_dir, capsys)
    assert f"sheet '{AID} (2)' read as table 'preschool_aid'" in output and f"hidden sheet '{AID}' not read" in output


def test_two_visible_candidates_are_refused_naming_both(data_dir, capsys):
    aid_workbook(data_dir, lambda book, sheet: book.copy_worksheet(sheet))  # "学前教育资助发放登记 Copy"
    path = folder(data_dir) / "tables.xlsx"
    book = openpyxl.load_workbook(path)
    book[f"{AID} Copy"].title = "preschool_aid"
    book.save(path)
    code, output = validate(data_dir, capsys)
    assert code == 2
    assert f"two visible sheets could both be table 'preschool_aid': '{AID}', 'preschool_aid'" in output


def test_a_register_only_in_a_hidden_sheet_is_refused(data_dir, capsys):
    aid_workbook(data_dir, lambda book, sheet: setattr(sheet, "sheet_state", "hidden") or book.create_sheet("说明"))
    code, output = validate(data_dir, capsys)
    assert code == 2 and f"sheet '{AID}' is hidden, so it was not read" in output


def test_rows_hidden_by_a_filter_are_counted_with_a_note(data_dir, capsys):
    def filtered(book, sheet):
        sheet.auto_filter.ref = "A1:E49"
        for row in (5, 9):
            sheet.row_dimensions[row].hidden = True

    aid_workbook(data_dir, filtered)
    output = aid_read_whole(data_dir, capsys)
    assert "rows 5, 9 hidden (a filter is on?); read as data like the others" in output


# --- 2. every format offices save --------------------------------------------------------------------

TABLES = ["licence_decisions", "preschool_aid", "student_loans", "tutoring_inspections", "key_figures"]


@pytest.mark.parametrize("fixture, name", [("tables-2020.xls", "tables.xls"), ("tables-2020.ods", "tables.ods"),
                                           ("tables-2020.xls", "tables.et"), ("tables-2020.xls", "tables.xlsx")])
def test_a_workbook_in_any_format_loads_to_identical_tables(data_dir, capsys, fixture, name):
    for table in TABLES:
        (folder(data_dir) / f"{table}.csv").unlink()
    shutil.copy(WORKBOOKS / fixture, folder(data_dir) / name)
    code, output = validate(data_dir, capsys)
    assert code == 0, output
    for table in TABLES:
        pd.testing.assert_frame_equal(data.load_table(data_dir, YEAR, table), data.load_table(DATA, YEAR, table))
    if name == "tables.xlsx":  # an .xls renamed: read as what it is, and said
        assert "named .xlsx but saved as Excel 97–2003" in output


def test_a_workbook_beside_the_csv_files_is_read_for_the_tables_it_holds(data_dir, capsys):
    """An .xls holding only the corrected aid register: it is read, the other tables from their CSVs."""
    shutil.copy(WORKBOOKS / "office.xls", folder(data_dir) / "tables.xls")
    (folder(data_dir) / "preschool_aid.csv").unlink()
    output = aid_read_whole(data_dir, capsys)
    assert "also sheet" not in output


def test_a_spreadsheet_no_table_reads_is_named(data_dir, capsys):
    shutil.copy(WORKBOOKS / "office.xls", folder(data_dir) / "学前资助（旧）.xls")
    (folder(data_dir) / "~$tables.xlsx").write_bytes(b"lock")  # Excel's lock file: not named
    code, output = validate(data_dir, capsys)
    assert code == 0, output
    assert "学前资助（旧）.xls: not read" in output and "~$tables.xlsx" not in output


def test_two_workbooks_for_one_year_are_refused(data_dir, capsys):
    shutil.copy(WORKBOOKS / "tables-2020.xls", folder(data_dir) / "tables.xls")
    shutil.copy(WORKBOOKS / "tables-2020.ods", folder(data_dir) / "tables.ods")
    code, output = validate(data_dir, capsys)
    assert code == 2 and "two workbooks for one year: tables.xls, tables.ods" in output
    assert output.count("two workbooks") == 1


# --- 3. shapes people make -------------------------------------------------------------------------

@pytest.mark.parametrize("fixture", ["office.xls", "office.ods"])
def test_an_office_register_saved_by_libreoffice_reads_right(data_dir, capsys, fixture):
    shutil.copy(WORKBOOKS / fixture, folder(data_dir) / f"tables{Path(fixture).suffix}")
    (folder(data_dir) / "preschool_aid.csv").unlink()
    output = aid_read_whole(data_dir, capsys)
    aid = data.load_table(data_dir, YEAR, "preschool_aid")
    assert len(aid) == 48 and aid["kindergarten"].value_counts().eq(4).all()  # names filled down, 合计 left out
    for note in ("row 1 above the header (row 2) skipped: '2020年学前教育资助发放登记表'",
                 "column F '备注' holds notes; kept out of the data",
                 "column A「幼儿园」 has 12 blocks of merged cells",
                 "row 6 hidden", "row 51 (合计) equals the sum of rows 3–50; left out of the data",
                 "hidden sheet 'preschool_aid' not read"):
        assert note in output, note


def test_a_merged_title_row_and_line_breaks_in_the_header(data_dir, capsys):
    def titled(book, sheet):
        sheet.insert_rows(1)
        sheet["A1"] = "2020年学前教育资助发放登记表"
        sheet.merge_cells("A1:E1")
        for cell, label in zip(sheet[2], ["幼儿园", "学期", "资助对象\n类别", "资助\n人次", "资助金额（元）"]):
            cell.value = label

    aid_workbook(data_dir, titled)
    output = aid_read_whole(data_dir, capsys)
    assert "row 1 above the header (row 2) skipped" in output


def test_a_title_row_in_a_csv_is_skipped_with_a_note(data_dir, capsys):
    path = folder(data_dir) / "student_loans.csv"
    path.write_text("2020年助学贷款登记表,,,\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    code, output = validate(data_dir, capsys)
    assert code == 0, output
    assert len(data.load_table(data_dir, YEAR, "student_loans")) == 424
    assert "row 1 above the header (row 2) skipped: '2020年助学贷款登记表'" in output


def test_category_cells_merged_down_rows_are_filled(data_dir, capsys):
    def merged(book, sheet):
        # Rows 2–3 both hold 春季学期 in column B: merge them, as a clerk would, leaving the value in B2 only.
        sheet["B3"] = None
        sheet.merge_cells("B2:B3")

    aid_workbook(data_dir, merged)
    output = aid_read_whole(data_dir, capsys)
    assert data.load_table(data_dir, YEAR, "preschool_aid")["term"].iloc[1] == "春季学期"
    assert "column B「term」学期 has 1 block of merged cells (B2:B3)" in output


def _total_row(children: int, amount: int):
    def add(book, sheet):
        sheet.append(["合计", "秋季学期", "贫困家庭的幼儿", children, amount])  # its category cells filled in

    return add


def test_a_total_row_equal_to_the_sum_is_left_out(data_dir, capsys):
    aid_workbook(data_dir, _total_row(2618, 697530))
    output = aid_read_whole(data_dir, capsys)  # 2618 children, not 5236: the 合计 row is not summed as data
    assert "row 50 (合计) equals the sum of rows 2–49; left out of the data" in output


def test_a_total_row_that_does_not_add_up_is_refused(data_dir, capsys):
    aid_workbook(data_dir, _total_row(2600, 697530))
    code, output = validate(data_dir, capsys)
    assert code == 2
    # Which row was taken as the total, and which rows were added: the clerk can tell a wrong figure from a wrong label.
    assert (f"tables.xlsx, sheet '{AID}', row 50, column D「children」资助人次: '2600': 合计行与所加各行之和不符："
            "第50行“合计”为 2600，而第2–49行（48行数据）之和为 2618") in output


def test_subtotals_are_checked_against_their_own_rows(data_dir, capsys):
    def subtotals(book, sheet):
        sheet.insert_rows(6)
        for cell, value in zip(sheet[6], ["小计", None, None, 256, 68210]):  # rows 2–5: 46+46+82+82, 12257+12257+21848+21848
            cell.value = value

    aid_workbook(data_dir, subtotals)
    output = aid_read_whole(data_dir, capsys)
    assert "row 6 (小计) equals the sum of rows 2–5" in output


@pytest.mark.parametrize("value", ["#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!"])
def test_excel_error_values_are_refused_in_any_column(data_dir, capsys, value):
    aid_workbook(data_dir, lambda book, sheet: sheet.cell(row=3, column=1, value=value))
    code, output = validate(data_dir, capsys)
    assert code == 2
    assert f"sheet '{AID}', row 3, column A「kindergarten」幼儿园: '{value}': Excel 错误值" in output


@pytest.mark.parametrize("fixture", ["errors.xls", "errors.ods"])
def test_error_values_saved_by_libreoffice_are_refused(data_dir, capsys, fixture):
    shutil.copy(WORKBOOKS / fixture, folder(data_dir) / f"tables{Path(fixture).suffix}")
    (folder(data_dir) / "student_loans.csv").unlink()
    code, output = validate(data_dir, capsys)
    assert code == 2
    assert f"sheet '{LOANS}', row 5, column C「学历层次」: '#N/A': Excel 错误值" in output


def test_a_date_written_as_an_excel_serial_number_gets_a_hint(data_dir, capsys):
    book = openpyxl.Workbook()
    book.remove(book.active)
    sheet = sheet_from_csv(book, LOANS, "student_loans.csv")
    sheet["B3"] = 43864  # the number Excel shows when a date cell is formatted as General
    sheet["B3"].number_format = "General"
    (folder(data_dir) / "student_loans.csv").unlink()
    book.save(folder(data_dir) / "tables.xlsx")
    code, output = validate(data_dir, capsys)
    assert code == 2
    assert "row 3, column B「handled_on」办理日期: '43864': 像是 Excel 的日期序号：43864 = 2020-02-03" in output
    assert "format the cell as a date" in output


def _builtin_date_format(path: Path, cell: str, format_id: int) -> None:
    """Give a cell one of Excel's built-in (locale) date formats by number, as Excel on Chinese Windows saves them."""
    with zipfile.ZipFile(path) as source:
        members = {n: source.read(n) for n in source.namelist()}
    styles = members["xl/styles.xml"].decode("utf-8")
    count = int(re.search(r'<cellXfs count="(\d+)"', styles).group(1))
    styles = re.sub(r'<cellXfs count="\d+">', f'<cellXfs count="{count + 1}">', styles)
    styles = styles.replace("</cellXfs>", f'<xf numFmtId="{format_id}" fontId="0" fillId="0" borderId="0" applyNumberFormat="1"/></cellXfs>')
    members["xl/styles.xml"] = styles.encode("utf-8")
    sheet = members["xl/worksheets/sheet1.xml"].decode("utf-8")
    sheet, changed = re.subn(rf'<c r="{cell}"( s="\d+")?( t="n")?>', f'<c r="{cell}" s="{count}">', sheet)
    assert changed == 1
    members["xl/worksheets/sheet1.xml"] = sheet.encode("utf-8")
    with zipfile.ZipFile(path, "w") as target:
        for name, content in members.items():
            target.writestr(name, content)


@pytest.mark.parametrize("format_id", [14, 31, 57])  # m/d/yyyy; yyyy"年"m"月"d"日"; 中文 yyyy"年"m"月"
def test_built_in_and_chinese_date_formats_read_as_dates(data_dir, capsys, format_id):
    book = openpyxl.Workbook()
    book.remove(book.active)
    sheet = sheet_from_csv(book, LOANS, "student_loans.csv")
    first = sheet["B2"].value
    sheet["B2"] = (first - dt.date(1899, 12, 30)).days  # the serial, to be shown by the built-in format
    (folder(data_dir) / "student_loans.csv").unlink()
    book.save(folder(data_dir) / "tables.xlsx")
    _builtin_date_format(folder(data_dir) / "tables.xlsx", "B2", format_id)
    code, output = validate(data_dir, capsys)
    assert code == 0, output
    assert data.load_table(data_dir, YEAR, "student_loans")["handled_on"].iloc[0] == pd.Timestamp(first)


def test_a_notes_column_is_kept_out_and_can_be_named_in_tables_yml(data_dir, capsys):
    path = folder(data_dir) / "student_loans.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0] + ",说明", *(line + ",已核对" for line in lines[1:])]) + "\n", encoding="utf-8")
    code, output = validate(data_dir, capsys)
    assert code == 2 and "column E「说明」" in output and "or a notes column: 备注" in output  # not declared: refused
    declarations = data_dir / "tables.yml"
    declarations.write_text(declarations.read_text(encoding="utf-8").replace(
        "    key: [loan_no]\n", "    key: [loan_no]\n    notes: [备注, 说明]\n"), encoding="utf-8")
    code, output = validate(data_dir, capsys)
    assert code == 0, output
    assert "column E '说明' holds notes; kept out of the data" in output
    assert len(data.load_table(data_dir, YEAR, "student_loans").columns) == 4


# --- 4. rules within a row -------------------------------------------------------------------------

def test_rules_within_a_row_name_the_row_and_the_values(data_dir, capsys):
    declarations = data_dir / "tables.yml"
    declarations.write_text(declarations.read_text(encoding="utf-8").replace(
        "    key: [kindergarten, term, family_category]\n",
        "    key: [kindergarten, term, family_category]\n    rules: [\"amount_yuan >= 200 ** 0 + children\", \"children <= 500\"]\n"),
        encoding="utf-8")
    code, output = validate(data_dir, capsys)
    assert code == 2 and "rule" in output and "only columns, numbers, + - * and one comparison" in output  # not **
    declarations.write_text(declarations.read_text(encoding="utf-8").replace("200 ** 0 + children", "children"), encoding="utf-8")
    assert validate(data_dir, capsys)[0] == 0
    path = folder(data_dir) / "preschool_aid.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    fields = lines[3].split(",")
    fields[3] = "600"  # row 4: 600 children, over the rule's 500
    lines[3] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, output = validate(data_dir, capsys)
    assert code == 2
    assert "preschool_aid.csv, row 4: 资助人次 = 600：不满足规则 children <= 500" in output  # the column by its label


def test_a_rule_naming_an_unknown_column_is_refused(data_dir, capsys):
    declarations = data_dir / "tables.yml"
    declarations.write_text(declarations.read_text(encoding="utf-8").replace(
        "    key: [loan_no]\n", "    key: [loan_no]\n    rules: [\"granted <= applied\"]\n"), encoding="utf-8")
    code, output = validate(data_dir, capsys)
    assert code == 2 and "rule 'granted <= applied' names 'granted', which is not a column" in output


# --- 5. cross-table checks in words -----------------------------------------------------------------

def test_a_headline_figure_against_its_register_in_the_clerks_words(data_dir, capsys):
    book = openpyxl.Workbook()
    book.remove(book.active)
    sheet_from_csv(book, "主要指标汇总", "key_figures.csv", ["指标", "数值", "单位"])
    (folder(data_dir) / "key_figures.csv").unlink()
    book.save(folder(data_dir) / "tables.xlsx")
    path = folder(data_dir) / "student_loans.csv"
    path.write_text(path.read_text(encoding="utf-8") + "EXTRA-1,2020-09-01,本科,8000\n", encoding="utf-8")
    code, output = validate(data_dir, capsys)
    assert code == 2
    assert ("tables.xlsx, sheet '主要指标汇总', row 5: 主要指标汇总 第5行 助学贷款办理人数 = 424，"
            "但生源地信用助学贷款办理登记 共 425 行") in output


def test_cross_checks_run_even_when_the_register_has_other_problems(data_dir, capsys):
    path = folder(data_dir) / "student_loans.csv"
    path.write_text(path.read_text(encoding="utf-8") + "EXTRA-1,2020-13-01,本科,8000\n", encoding="utf-8")  # a bad date too
    code, output = validate(data_dir, capsys)
    assert code == 2
    assert "row 426, column B「handled_on」办理日期: '2020-13-01'" in output
    assert "主要指标汇总 第5行 助学贷款办理人数 = 424，但生源地信用助学贷款办理登记 共 425 行（该表另有问题" in output
