"""The system prompt: the session, /mnt/data and a compact summary of each attached file."""

from __future__ import annotations

from typing import Any

from run_service.engines.port import DATA_DIR, AttachedFile

MAX_COLUMNS_LISTED = 30
MAX_SUMMARY_CHARS = 600

WITH_TOOL = (
    "You are a data analysis assistant. You have a `python` tool that runs code in a persistent "
    f"Python session (variables and imports survive between calls); its working directory is "
    f"{DATA_DIR}, which holds the user's files. Save charts and generated files to {DATA_DIR} "
    "and mention their names. numpy, pandas, matplotlib, seaborn, scipy, sympy, openpyxl and "
    "pypdf are installed; there is no network access. Run code to compute answers rather than "
    "guessing, and base your answer on what the code printed."
)
WITHOUT_TOOL = (
    "You are a data analysis assistant. Code execution is off for this conversation: answer "
    f"directly, without running code. The user's files are in {DATA_DIR}."
)


def system_prompt(files: tuple[AttachedFile, ...], *, use_code_interpreter: bool) -> str:
    """The instructions and the list of attached files."""
    text = WITH_TOOL if use_code_interpreter else WITHOUT_TOOL
    if not files:
        return text + f"\n\nNo files are attached yet ({DATA_DIR} may be empty)."
    lines = [f"- {f.path}" + _summary_suffix(f.profile) for f in files]
    return text + f"\n\nFiles in {DATA_DIR}:\n" + "\n".join(lines)


def _summary_suffix(profile: dict[str, Any] | None) -> str:
    summary = profile_summary(profile) if profile else ""
    return f": {summary}" if summary else ""


def profile_summary(profile: dict[str, Any]) -> str:
    """One line from a file-service profile: rows, columns with types, sheets, pages, keys."""
    parts: list[str] = []
    if "error" in profile:
        parts.append(f"not profiled ({profile['error']})")
    if profile.get("row_count") is not None:
        parts.append(f"{profile['row_count']} rows")
    columns = profile.get("columns")
    if isinstance(columns, list) and columns:
        types = profile.get("column_types") or {}
        shown = [f"{c} ({types[c]})" if c in types else str(c) for c in columns]
        more = profile.get("column_count", len(columns)) - MAX_COLUMNS_LISTED
        listed = ", ".join(shown[:MAX_COLUMNS_LISTED]) + (f", … {more} more" if more > 0 else "")
        parts.append(f"columns {listed}")
    if profile.get("sheet_names"):
        parts.append("sheets " + ", ".join(map(str, profile["sheet_names"][:20])))
    if profile.get("page_count") is not None:
        parts.append(f"{profile['page_count']} pages")
    if profile.get("line_count") is not None:
        parts.append(f"{profile['line_count']} lines")
    if profile.get("kind") == "array" and profile.get("length") is not None:
        parts.append(f"JSON array of {profile['length']}")
    elif profile.get("kind") == "object" and profile.get("keys"):
        parts.append("JSON object with keys " + ", ".join(map(str, profile["keys"][:20])))
    text = "; ".join(parts)
    return text if len(text) <= MAX_SUMMARY_CHARS else text[: MAX_SUMMARY_CHARS - 1] + "…"
