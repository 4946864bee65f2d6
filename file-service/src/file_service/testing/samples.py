"""Small valid sample files made in code, for tests here and in the services that call us."""

import io
from collections.abc import Sequence
from typing import Any


def pdf_bytes(pages: Sequence[str] = ("Hello from a PDF",)) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page."""
    count = len(pages)
    page_ids = [3 + 2 * index for index in range(count)]
    font_id = 3 + 2 * count
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % pid for pid in page_ids), count),
    ]
    for pid, text in zip(page_ids, pages, strict=True):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = b"BT /F1 12 Tf 72 720 Td (%s) Tj ET" % escaped.encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pid + 1, font_id)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def xlsx_bytes(rows: Sequence[Sequence[Any]], *, sheets: Sequence[str] = ("Data",)) -> bytes:
    """An .xlsx whose first sheet holds `rows` (the first row is the header)."""
    from openpyxl import Workbook  # type: ignore[import-untyped]

    workbook = Workbook()
    first = workbook.active
    first.title = sheets[0]
    for row in rows:
        first.append(list(row))
    for name in sheets[1:]:
        workbook.create_sheet(name)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
