"""The names of what a build writes in ``outputs/``: one place, read by the build, the indexes and the apps."""

from __future__ import annotations

REPORT_FILE = "report.html"
FORMATS = {"html": REPORT_FILE, "pdf": "report.pdf", "docx": "report.docx"}  # all from the one rendered report
FORMAT_LABELS = {"html": "网页版", "pdf": "PDF", "docx": "Word"}  # as the index pages link them
DATA_FILES = {"figures.csv": "数据CSV", "figures.json": "数据JSON"}  # every figure of a report, with its source
SECTIONS_DIR = "sections"  # the executed section notebooks, published beside the report
FAILED_DIR = "failed"  # the executed notebooks (and logs) of sections that failed
MANIFEST = "manifest.json"  # the record of the last build of a year
INDEX = "index.html"  # the list of every built year (a body), or of every body (a workspace)
