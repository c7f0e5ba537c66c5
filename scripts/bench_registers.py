"""Benchmark reading a large register: the same rows as CSV and as a workbook (.xlsx, .xls-free), validated alike.

    python scripts/bench_registers.py [--rows 50000] [--runs 3]      (or: make bench-registers)

Writes a 50,000-row loan register (synthetic rows: the shipped 2020 rows repeated with new case
numbers) into a temporary data folder, once as student_loans.csv and once as a sheet of
tables.xlsx, and times `annual_review.registers.reading.read_table` on each (median of the runs): the whole
read — opening the file, finding the header, typing every cell, the pandera schema — as
`validate` and `build` do it. Prints both times and the ratio workbook/CSV (target ≤ 2).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "lib"))

from annual_review.registers import reading as data  # noqa: E402
from annual_review.registers.schemas import table_specs  # noqa: E402
from annual_review.registers.sources import _load  # noqa: E402


def rows(count: int) -> list[list[str]]:
    shipped = list(csv.reader((REPO / "data" / "2020" / "student_loans.csv").open(encoding="utf-8")))[1:]
    return [[f"BENCH-{i:06d}", *shipped[i % len(shipped)][1:]] for i in range(count)]


def timed(folder: Path, runs: int) -> float:
    spec = table_specs(folder)["student_loans"]
    times = []
    for _ in range(runs):
        _load.cache_clear()  # each run opens the file afresh
        started = time.perf_counter()
        read = data.read_table(folder, 2020, spec)
        times.append(time.perf_counter() - started)
        assert not read.problems and len(read.frame) > 0, read.problems[:3]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    register = rows(args.rows)
    header = ["loan_no", "handled_on", "study_level", "amount_yuan"]
    with tempfile.TemporaryDirectory() as work:
        as_csv, as_book = Path(work) / "csv", Path(work) / "xlsx"
        for folder in (as_csv, as_book):
            (folder / "2020").mkdir(parents=True)
            shutil.copy(REPO / "data" / "tables.yml", folder / "tables.yml")
        with (as_csv / "2020" / "student_loans.csv").open("w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([header, *register])
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("生源地信用助学贷款办理登记")
        sheet.append(["受理编号", "办理日期", "学历层次", "贷款金额"])
        import datetime as dt

        for loan_no, handled_on, level, amount in register:
            sheet.append([loan_no, dt.date.fromisoformat(handled_on), level, int(amount)])
        book.save(as_book / "2020" / "tables.xlsx")
        csv_time, book_time = timed(as_csv, args.runs), timed(as_book, args.runs)
    print(f"{args.rows:,} rows (synthetic: the shipped 2020 loan rows repeated), median of {args.runs} runs")
    print(f"  CSV       {csv_time:6.2f} s")
    print(f"  workbook  {book_time:6.2f} s   (.xlsx, read with python-calamine)")
    print(f"  workbook/CSV = {book_time / csv_time:.2f}   (target ≤ 2)")


if __name__ == "__main__":
    main()
