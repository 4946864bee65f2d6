"""Profiles of spreadsheets and PDFs, read with random access from a binary reader.

They run in a child process of their own (`profile_child`, limited in memory and time), so a
hostile file costs that process, never file-service. The caps below refuse early what would
cost too much anyway (zip bombs, huge string tables).
"""

import zipfile
from typing import Any, BinaryIO

from file_service.profiles_tabular import INFERENCE_ROWS, MAX_CELL_CHARS, table_profile

MAX_XLSX_PART_BYTES = 32 << 20
"""openpyxl holds shared strings and styles in memory: bigger parts are not profiled."""

MAX_XLS_BYTES = 32 << 20
"""xlrd reads a whole .xls into memory: bigger files are not profiled."""

MAX_PDF_TEXT_PAGES = 5
PDF_TEXT_CHARS = 1000
_XLSX_IN_MEMORY_PARTS = ("xl/sharedStrings.xml", "xl/styles.xml", "xl/workbook.xml")


class TooBigToProfile(Exception):
    """The file is within upload limits but beyond what a profile may cost."""


def profile_xlsx(reader: BinaryIO, size: int) -> dict[str, Any]:
    """The first sheet's table profile, and the names of all sheets."""
    from openpyxl import load_workbook  # type: ignore[import-untyped]

    with zipfile.ZipFile(reader) as archive:
        for info in archive.infolist():
            if info.filename in _XLSX_IN_MEMORY_PARTS and info.file_size > MAX_XLSX_PART_BYTES:
                raise TooBigToProfile(
                    f"{info.filename} expands to {info.file_size} bytes "
                    f"(profiles read at most {MAX_XLSX_PART_BYTES})"
                )
    reader.seek(0)
    workbook = load_workbook(reader, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows_iter = sheet.iter_rows(values_only=True)
        header = list(next(rows_iter, ()))
        rows = [list(row) for _, row in zip(range(INFERENCE_ROWS), rows_iter, strict=False)]
        # The sheet's recorded dimension; None when the writer did not record one.
        max_row = sheet.max_row
        row_count = None if max_row is None else max(max_row - 1, 0)
        profile = table_profile(header, rows, row_count)
        profile.update(sheet=sheet.title, sheet_names=list(workbook.sheetnames), format="xlsx")
        return profile
    finally:
        workbook.close()


def profile_xls(reader: BinaryIO, size: int) -> dict[str, Any]:
    """The first sheet's table profile, and the names of all sheets (legacy Excel)."""
    import xlrd  # type: ignore[import-untyped]

    if size > MAX_XLS_BYTES:
        raise TooBigToProfile(f"the file is over {MAX_XLS_BYTES >> 20} MiB")
    contents = reader.read()
    book = xlrd.open_workbook(file_contents=contents, on_demand=True)
    try:
        sheet = book.sheet_by_index(0)
        values = [
            [_xls_cell(cell, book.datemode) for cell in sheet.row(index)]
            for index in range(min(sheet.nrows, INFERENCE_ROWS + 1))
        ]
        header = values[0] if values else []
        profile = table_profile(header, values[1:], max(sheet.nrows - 1, 0))
        profile.update(sheet=sheet.name, sheet_names=book.sheet_names(), format="xls")
        return profile
    finally:
        book.release_resources()


def _xls_cell(cell: Any, datemode: int) -> Any:
    import xlrd

    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate_as_datetime(cell.value, datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return cell.value
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    if cell.ctype == xlrd.XL_CELL_NUMBER and float(cell.value).is_integer():
        return int(cell.value)
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    return cell.value


def profile_pdf(reader: BinaryIO, size: int) -> dict[str, Any]:
    """Page count and the first ~1,000 characters of text."""
    from pypdf import PdfReader

    pdf = PdfReader(reader, strict=False)
    if pdf.is_encrypted and not pdf.decrypt(""):
        return {"encrypted": True, "page_count": None, "text": ""}
    pages = len(pdf.pages)
    text = ""
    for index in range(min(pages, MAX_PDF_TEXT_PAGES)):
        text += (pdf.pages[index].extract_text() or "").strip() + "\n"
        if len(text) >= PDF_TEXT_CHARS:
            break
    metadata = pdf.metadata
    title = None if metadata is None else metadata.title
    return {
        "page_count": pages,
        "text": text.strip()[:PDF_TEXT_CHARS],
        "title": None if title is None else str(title)[:MAX_CELL_CHARS],
        "encrypted": pdf.is_encrypted,
    }


PROFILERS = {".xlsx": profile_xlsx, ".xls": profile_xls, ".pdf": profile_pdf}
