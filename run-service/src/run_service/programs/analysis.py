"""The built-in analysis of attached files: one cell per file, and sentences from its report.

File names and paths reach the generated code only as `repr()` literals, so a name such as
`a'); import os; #.csv` stays a string. Each cell's last expression is its JSON report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from run_service.engines.port import AttachedFile
from run_service.programs.analysis_code import PDF_CODE, TABLE_CODE, TEXT_CODE, WORDS_CODE

KINDS = {".csv": "table", ".xlsx": "table", ".xls": "table", ".json": "table"}
KINDS |= {".txt": "text", ".pdf": "pdf"}
SUPPORTED = ".csv, .xlsx, .xls, .json, .txt and .pdf"

NOTHING_TO_ANALYZE = (
    "There is nothing to analyze: no files are attached. Upload each file with "
    "`POST /api/upload` (multipart field `file`; " + SUPPORTED + " files are accepted), then "
    'pass the returned ids to `POST /api/analyze`, for example `{"prompt": "Analyze this '
    'dataset", "file_ids": ["file-…"]}`. This is the built-in analysis (no model is '
    "configured), so the prompt itself is not interpreted."
)


@dataclass(frozen=True)
class Job:
    """One attached file, its kind and the cell that analyzes it (None: a type we do not read)."""

    file: AttachedFile
    kind: str | None
    code: str | None


def _chart_prefix(name: str, taken: set[str]) -> str:
    """A safe, unique stem for a file's charts: `sales` for `sales.csv`."""
    path = PurePosixPath(name)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", path.stem).strip("_-")[:60] or "file"
    if stem in taken:
        stem = f"{stem}_{path.suffix.lstrip('.').lower()}"
    unique, n = stem, 2
    while unique in taken:
        unique, n = f"{stem}_{n}", n + 1
    taken.add(unique)
    return unique


def _delimiter(file: AttachedFile) -> str:
    """The CSV delimiter file-service sniffed at upload, else a comma."""
    sniffed = (file.profile or {}).get("delimiter")
    return sniffed if isinstance(sniffed, str) and len(sniffed) == 1 else ","


def _cell(file: AttachedFile, kind: str, prefix: str) -> str:
    name, path = repr(file.name), repr(file.path)
    if kind == "table":
        suffix = PurePosixPath(file.name).suffix.lower()
        call = f"analyze_table({name}, {path}, {suffix!r}, {_delimiter(file)!r}, {prefix!r})"
        return f"{TABLE_CODE}\n\njson.dumps({call})\n"
    body = TEXT_CODE if kind == "text" else PDF_CODE
    function = "analyze_text" if kind == "text" else "analyze_pdf"
    return f"{WORDS_CODE}\n{body}\n\njson.dumps({function}({name}, {path}))\n"


def plan(files: Sequence[AttachedFile]) -> list[Job]:
    """A cell for each attached file, with chart names that cannot collide."""
    taken: set[str] = set()
    jobs = []
    for file in files:
        kind = KINDS.get(PurePosixPath(file.name).suffix.lower())
        code = None if kind is None else _cell(file, kind, _chart_prefix(file.name, taken))
        jobs.append(Job(file, kind, code))
    return jobs


def needs_pandas(jobs: Sequence[Job]) -> bool:
    """Whether any cell reads a table (and so imports pandas and matplotlib)."""
    return any(job.kind == "table" for job in jobs)


def preface(message: str, count: int) -> str:
    """The answer's opening: what this analysis is, and that the prompt was not read."""
    prompt = " ".join(message.split())
    if len(prompt) > 160:
        prompt = prompt[:159] + "…"
    each = "The attached file gets" if count == 1 else f"Each of the {count} attached files gets"
    opening = "This is the built-in analysis, used because no model is configured"
    if prompt:
        opening += f": your prompt (“{prompt}”) was not interpreted"
    return f"{opening}. {each} the same standard analysis, computed in the sandbox."


def unsupported(file: AttachedFile) -> str:
    """Why a file was skipped."""
    return f"{code(file.name)} was not analyzed: the built-in analysis reads {SUPPORTED} files."


def code(text: str) -> str:
    """Text as an inline code span, whatever backticks it holds."""
    text = " ".join(str(text).split())
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def _num(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1e15 or (value != 0 and abs(value) < 0.01):
        return f"{value:.3g}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


TYPE_WORDS = {"int": "integer", "uint": "integer", "float": "decimal", "object": "text"}
TYPE_WORDS |= {"str": "text", "string": "text", "bool": "true/false", "datetime": "date"}
TYPE_WORDS |= {"category": "category", "complex": "complex"}


def type_word(dtype: str) -> str:
    """`int64` → integer, `object` → text; unknown types as they are."""
    base = re.sub(r"[\d\[].*$", "", dtype.lower())
    return TYPE_WORDS.get(base, dtype)


def _shape(report: dict[str, Any]) -> str:
    types = ", ".join(f"{code(c)} {type_word(t)}" for c, t in report["types"][:12])
    more = report["columns"] - min(12, len(report["types"]))
    if more > 0:
        types += f" and {more:,} more"
    note = f", read from {report['note']}" if report["note"] else ""
    inside = f" ({types}{note})" if types else note
    columns = _count(report["columns"], "column")
    return f"{code(report['name'])} has {_count(report['rows'], 'row')} and {columns}{inside}."


def _missing(report: dict[str, Any]) -> str:
    total = report["missing_total"]
    if total == 0:
        return "No values are missing."
    verb = "is" if total == 1 else "are"
    if report["missing_columns"] == 1:
        return f"{_count(total, 'value')} {verb} missing, all in {code(report['missing'][0][0])}."
    parts = ", ".join(f"{n:,} in {code(c)}" for c, n in report["missing"])
    more = "" if report["missing_columns"] <= len(report["missing"]) else ", and more"
    columns = report["missing_columns"]
    return f"{_count(total, 'value')} {verb} missing in {columns} columns: {parts}{more}."


def _numbers(report: dict[str, Any]) -> str:
    if report["numeric_count"] == 0:
        return "There are no numeric columns, so there are no statistics or correlations."
    parts = [
        f"{code(c)} averages {_num(mean)} (from {_num(low)} to {_num(high)})"
        for c, mean, low, high in report["numeric"]
    ]
    more = report["numeric_count"] - len(parts)
    tail = f"; {more} more numeric columns are in the statistics below" if more > 0 else ""
    return "Numeric columns: " + "; ".join(parts) + tail + "."


def strength(r: float) -> str:
    """Words for a correlation coefficient."""
    size = abs(r)
    word = "strong" if size >= 0.7 else "moderate" if size >= 0.4 else "weak"
    if size < 0.1:
        return "almost no linear relationship"
    return f"a {word} {'positive' if r > 0 else 'negative'} relationship"


def _correlation(report: dict[str, Any]) -> str | None:
    if report["numeric_count"] < 2:
        return None
    if report["strongest"] is None:
        return "No correlation could be computed (the numeric columns are constant or too sparse)."
    a, b, r = report["strongest"]
    among = ""
    if report["correlated_columns"] < report["numeric_count"]:
        among = f" among the first {report['correlated_columns']} numeric columns"
    return (
        f"The strongest correlation{among} is between {code(a)} and {code(b)} "
        f"(r = {r:.2f}, {strength(r)})."
    )


def _texts(report: dict[str, Any]) -> str | None:
    parts = []
    for column in report["text"]:
        part = f"{code(column['name'])} has {_count(column['distinct'], 'distinct value')}"
        if column["top"] is not None and column["top"][1] > 1:
            value, n = column["top"]
            part += f", most often “{value}” ({_count(n, 'row')})"
        parts.append(part)
    return "Text columns: " + "; ".join(parts) + "." if parts else None


CHART_WORDS = {"_histograms.png": "histograms of the numeric columns"}
CHART_WORDS |= {"_correlations.png": "correlation heatmap"}


def _charts(report: dict[str, Any]) -> str | None:
    parts = [
        f"{code(name)} ({words})"
        for name in report["charts"]
        for end, words in CHART_WORDS.items()
        if name.endswith(end)
    ]
    sentence = "Charts: " + ", ".join(parts) + "." if parts else None
    if report["chart_problem"]:
        problem = f"The charts could not all be drawn: {report['chart_problem']}."
        sentence = f"{sentence} {problem}" if sentence else problem
    return sentence


def _top_words(report: dict[str, Any]) -> str:
    if not report["top_words"]:
        return ""
    words = ", ".join(f"“{w}” ({n})" for w, n in report["top_words"])
    return f" The most common words (leaving out words such as “the” and “and”) are {words}."


def describe_table(report: dict[str, Any]) -> str:
    """The findings on one table, in words."""
    parts = [_shape(report), _missing(report), _numbers(report)]
    parts += [p for p in (_correlation(report), _texts(report), _charts(report)) if p]
    return " ".join(parts)


def describe_text(report: dict[str, Any]) -> str:
    """The findings on one text file, in words."""
    counts = (
        f"{_count(report['lines'], 'line')}, {_count(report['words'], 'word')} and "
        f"{_count(report['characters'], 'character')}"
    )
    distinct = f" ({report['distinct_words']:,} distinct)" if report["words"] else ""
    return f"{code(report['name'])} has {counts}{distinct}.{_top_words(report)}"


def describe_pdf(report: dict[str, Any]) -> str:
    """The findings on one PDF, in words."""
    text = (
        f"{code(report['name'])} has {_count(report['pages'], 'page')} and "
        f"{_count(report['words'], 'word')} of extractable text."
    )
    if report["blank_pages"]:
        blank = _count(report["blank_pages"], "page")
        text += f" {blank} without extractable text (scanned images, perhaps)."
    return text + _top_words(report)


def describe(job: Job, report: dict[str, Any]) -> str:
    """The findings on one file, or why it could not be read."""
    if "error" in report:
        what = {"table": "a table", "text": "text", "pdf": "a PDF"}.get(job.kind or "", "data")
        return f"{code(job.file.name)} could not be read as {what}: {report['error']}"
    describers = {"table": describe_table, "text": describe_text, "pdf": describe_pdf}
    return describers[job.kind or ""](report)
