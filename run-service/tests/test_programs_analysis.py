"""The built-in analysis of attached files, really run in the bubblewrap sandbox."""

from __future__ import annotations

import io
import statistics
import uuid
from dataclasses import replace

import pandas as pd

from run_service.engines import AttachedFile, RunOutcome, RunRequest
from run_service.engines.sandbox_executor import SandboxExecutor
from run_service.programs import ProgramEngine
from run_service.sandbox import SessionPool

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def new_thread() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def attach(pool: SessionPool, thread_id: str, name: str, data: bytes) -> AttachedFile:
    """Put a file into the thread's /mnt/data the way run-service does (owned by its session)."""
    with pool.incoming_file(thread_id, name) as out:
        out.write(data)
    return AttachedFile(name=name, path=f"/mnt/data/{name}")


async def analyze(
    pool: SessionPool, thread_id: str, *files: AttachedFile, prompt: str = "Analyze this"
) -> RunOutcome:
    request = RunRequest(message=prompt, files=files)
    return await ProgramEngine("analyze").run(request, SandboxExecutor(pool, thread_id))


def sales_csv() -> tuple[bytes, float]:
    """120 rows, 4 columns, 3 prices missing; revenue follows units. Also r(units, revenue)."""
    lines = ["units,price,revenue,region"]
    units, revenue = [], []
    for i in range(120):
        u, r = i % 20 + 1, (i % 20 + 1) * 10 + i % 3
        price = "" if i in (5, 50, 100) else str(10 + i % 7)
        lines.append(f"{u},{price},{r},{'NSEW'[i % 4]}")
        units.append(u)
        revenue.append(r)
    return ("\n".join(lines) + "\n").encode(), statistics.correlation(units, revenue)


def tiny_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one line of Helvetica text per page."""
    n = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return bytes(out + trailer.encode())


async def test_csv_findings_are_stated_in_words(pool: SessionPool) -> None:
    thread_id = new_thread()
    data, r = sales_csv()
    sales = attach(pool, thread_id, "sales.csv", data)

    outcome = await analyze(pool, thread_id, sales, prompt="What drives revenue?")

    answer = outcome.answer
    assert "no model is configured" in answer
    assert "“What drives revenue?”" in answer
    assert "was not interpreted" in answer
    assert "`sales.csv` has 120 rows and 4 columns (`units` integer, `price` decimal" in answer
    assert "3 values are missing, all in `price`." in answer
    assert f"The strongest correlation is between `units` and `revenue` (r = {r:.2f}" in answer
    assert "a strong positive relationship" in answer
    assert "`region` has 4 distinct values" in answer
    charts = [name for execution in outcome.executions for name in execution.files]
    assert sorted(charts) == ["sales_correlations.png", "sales_histograms.png"]
    for chart in charts:
        assert pool.read_file(thread_id, chart).startswith(PNG_SIGNATURE)
        assert f"`{chart}`" in answer
    assert "Summary statistics of the numeric columns:" in answer  # the printed tables


async def test_hostile_file_name_is_data_not_code(pool: SessionPool) -> None:
    thread_id = new_thread()
    name = "a'); open('pwned', 'w'); print('injected'); ('.csv"
    hostile = attach(pool, thread_id, name, b"x,y\n1,2\n2,4\n3,7\n")

    outcome = await analyze(pool, thread_id, hostile)

    assert f"`{name}` has 3 rows and 2 columns" in outcome.answer
    assert not pool.has_file(thread_id, "pwned")
    printed = [line for execution in outcome.executions for line in execution.stdout.splitlines()]
    assert "injected" not in printed
    charts = sorted(name for execution in outcome.executions for name in execution.files)
    assert charts == [
        "a_open_pwned_w_print_injected_correlations.png",
        ("a_open_pwned_w_print_injected_histograms.png"),
    ]


async def test_a_malformed_csv_does_not_stop_the_others(pool: SessionPool) -> None:
    thread_id = new_thread()
    bad = attach(pool, thread_id, "bad.csv", b"a,b\n1,2\n3,4,5,6\n")
    good = attach(pool, thread_id, "good.csv", b"a,b\n1,2\n2,5\n")

    outcome = await analyze(pool, thread_id, bad, good)

    assert "`bad.csv` could not be read as a table: ParserError:" in outcome.answer
    assert "Expected 2 fields in line 3, saw 4" in outcome.answer
    assert "`good.csv` has 2 rows and 2 columns" in outcome.answer
    assert outcome.answer.index("### `bad.csv`") < outcome.answer.index("### `good.csv`")


async def test_no_files_means_nothing_to_analyze(pool: SessionPool) -> None:
    outcome = await analyze(pool, new_thread())

    assert outcome.executions == ()
    assert outcome.answer.startswith("There is nothing to analyze: no files are attached.")
    assert "POST /api/upload" in outcome.answer
    assert "file_ids" in outcome.answer
    assert "POST /api/analyze" in outcome.answer


async def test_text_pdf_excel_json_and_semicolon_csv_files(pool: SessionPool) -> None:
    thread_id = new_thread()
    text = "The fox saw a fox.\nA dog saw the fox\nand the dog ran away.\n"
    excel = io.BytesIO()
    pd.DataFrame({"city": ["Oslo", "Rome", "Oslo"], "temp": [3.5, 18.0, None]}).to_excel(
        excel, index=False
    )
    files = [
        attach(pool, thread_id, "notes.txt", text.encode()),
        attach(pool, thread_id, "report.pdf", tiny_pdf(["Quarterly report", "Sales grew fast"])),
        attach(pool, thread_id, "weather.xlsx", excel.getvalue()),
        attach(pool, thread_id, "records.json", b'[{"id": 1, "ok": true}, {"id": 2}]'),
        attach(pool, thread_id, "scalar.json", b"42"),
        replace(attach(pool, thread_id, "eu.csv", b"a;b\n1;x\n2;y\n"), profile={"delimiter": ";"}),
    ]

    outcome = await analyze(pool, thread_id, *files)

    answer = outcome.answer
    assert f"`notes.txt` has 3 lines, 15 words and {len(text)} characters" in answer
    assert "“fox” (3)" in answer
    assert "`report.pdf` has 2 pages and 5 words of extractable text." in answer
    assert "`weather.xlsx` has 3 rows and 2 columns (`city` text, `temp` decimal)." in answer
    assert "1 value is missing, all in `temp`." in answer
    assert "`records.json` has 2 rows and 2 columns" in answer
    assert "1 value is missing, all in `ok`." in answer
    assert "`eu.csv` has 2 rows and 2 columns (`a` integer, `b` text)." in answer
    assert "`scalar.json` could not be read as a table: ValueError: the JSON is a single int" in (
        answer
    )


async def test_unsupported_types_are_named_not_guessed(pool: SessionPool) -> None:
    thread_id = new_thread()
    image = attach(pool, thread_id, "photo.png", b"\x89PNG\r\n\x1a\n")

    outcome = await analyze(pool, thread_id, image)

    assert outcome.executions == ()
    assert "`photo.png` was not analyzed: the built-in analysis reads .csv" in outcome.answer


async def test_iso_dates_are_described_as_dates(pool: SessionPool) -> None:
    thread = new_thread()
    data = b"day,units,note\n2026-01-05,3,a\n2026-01-12,5,b\n2026-01-19,4,2026-01\n"
    outcome = await analyze(pool, thread, attach(pool, thread, "weeks.csv", data))

    assert "`day` date" in outcome.answer
    assert "`note` text" in outcome.answer  # not every value is a date
