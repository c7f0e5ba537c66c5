"""The registers offices keep (CSV, Excel and WPS workbooks, LibreOffice sheets): read as a clerk lays them out,
typed and checked against ``tables.yml``, every problem named by file, sheet, row and column."""
