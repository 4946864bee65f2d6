"""Shared pieces of table profiles: column type inference and JSON-safe sample cells."""

import json
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import Any

SAMPLE_ROWS = 5
"""Rows shown in a profile."""

INFERENCE_ROWS = 1000
"""Rows whose values decide a column's type."""

MAX_COLUMNS = 200
"""Columns described; wider tables are cut (the profile says how many there are)."""

MAX_CELL_CHARS = 200
"""Longer sample cells are cut, so a profile stays small."""

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BOOLEAN = frozenset({"true", "false", "yes", "no"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)

# Which narrow types a wider one absorbs: all integers and some numbers make "number".
_WIDENS = {
    frozenset({"integer", "number"}): "number",
    frozenset({"date", "datetime"}): "datetime",
}


def kind_of(value: Any) -> str | None:
    """The type of one cell: integer, number, boolean, date, datetime, time, string; None if
    empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    if isinstance(value, str):
        return _kind_of_text(value.strip())
    return "string"


def _kind_of_text(text: str) -> str:
    if _INTEGER.fullmatch(text):
        return "integer"
    if _NUMBER.fullmatch(text):
        return "number"
    if text.lower() in _BOOLEAN:
        return "boolean"
    if _DATE.fullmatch(text):
        return "date"
    if _DATETIME.fullmatch(text):
        return "datetime"
    return "string"


def column_type(values: Iterable[Any]) -> str:
    """The narrowest type every non-empty value fits ("empty" if all are empty)."""
    kinds = {kind for kind in map(kind_of, values) if kind is not None}
    if not kinds:
        return "empty"
    if len(kinds) == 1:
        return kinds.pop()
    return _WIDENS.get(frozenset(kinds), "string")


def table_profile(
    header: Sequence[Any], rows: Sequence[Sequence[Any]], row_count: int | None
) -> dict[str, Any]:
    """Columns, their inferred types, the row count and a few sample rows."""
    width = max([len(header), *(len(row) for row in rows)], default=0)
    columns = [column_name(header, index) for index in range(min(width, MAX_COLUMNS))]
    sampled = rows[:INFERENCE_ROWS]
    types = {
        name: column_type(row[index] if index < len(row) else None for row in sampled)
        for index, name in enumerate(columns)
    }
    profile: dict[str, Any] = {
        "columns": columns,
        "column_types": types,
        "row_count": row_count,
        "sample_rows": [
            [safe_cell(row[i] if i < len(row) else None) for i in range(len(columns))]
            for row in rows[:SAMPLE_ROWS]
        ],
    }
    if width > MAX_COLUMNS:
        profile["column_count"] = width
    return profile


def column_name(header: Sequence[Any], index: int) -> str:
    """The header cell as text, or `column_<n>` (1-based) where it is blank."""
    cell = header[index] if index < len(header) else None
    text = "" if cell is None else str(cell).strip()
    return text[:MAX_CELL_CHARS] or f"column_{index + 1}"


def safe_cell(value: Any) -> Any:
    """A cell as JSON: numbers, booleans and None as they are, dates in ISO form, text cut."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, default=str)
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"
