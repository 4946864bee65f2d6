"""The Python the built-in analysis runs in the sandbox, one function per kind of file.

Each piece defines functions in the session; `analysis.py` calls them with `repr()` literals of
the file's name and path, and each call's value is the JSON report the answer is written from.
"""

TABLE_CODE = r'''import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def load_table(path, suffix, delimiter):
    """The file as a DataFrame, and a note on what was read (which sheet)."""
    if suffix == ".csv":
        return pd.read_csv(path, sep=delimiter, encoding_errors="replace"), None
    if suffix in (".xlsx", ".xls"):
        sheets = pd.read_excel(path, sheet_name=None)
        if not sheets:
            raise ValueError("the workbook has no sheets")
        first = next(iter(sheets))
        note = f"the first of {len(sheets)} sheets, {first!r}" if len(sheets) > 1 else None
        return sheets[first], note
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):
        return pd.json_normalize(data), None
    if isinstance(data, dict) and data and all(isinstance(v, (list, dict)) for v in data.values()):
        return pd.DataFrame(data), None
    what = {dict: "an object", list: "a list"}.get(type(data), f"a single {type(data).__name__}")
    raise ValueError(f"the JSON is {what}, not a list of records or an object of columns")


def with_dates(table):
    """Text columns whose every value is an ISO date (2026-01-05, 2026-01-05T10:00) as dates,
    so they are described as dates, as file-service's profile describes them."""
    for column in table.select_dtypes(include=["object", "string"]).columns:
        values = table[column].dropna().astype(str)
        if len(values) and values.str.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][\d:.]+)?").all():
            try:
                table[column] = pd.to_datetime(table[column], format="ISO8601")
            except (ValueError, TypeError):
                pass
    return table


def number(value):
    """A JSON-safe float: None for NaN and infinity."""
    value = float(value)
    return round(value, 6) if np.isfinite(value) else None


def short(text, limit):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label(text, limit=40):
    """Short text for a chart; $ escaped so matplotlib does not read it as math."""
    return short(text, limit).replace("$", r"\$")


def strongest_pair(corr):
    """The pair of columns with the largest |r|, or None."""
    best = None
    names = list(corr.columns)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            r = float(corr.iat[i, j])
            if np.isfinite(r) and (best is None or abs(r) > abs(best[2])):
                best = [short(names[i], 100), short(names[j], 100), round(r, 4)]
    return best


def save_histograms(numeric, title, path):
    columns = list(numeric.columns)[:12]
    width = min(3, len(columns))
    height = -(-len(columns) // width)
    fig, axes = plt.subplots(height, width, figsize=(4 * width, 3 * height), squeeze=False)
    for ax, column in zip(axes.ravel(), columns):
        ax.hist(numeric[column].dropna(), bins=20, color="#4c72b0", edgecolor="white")
        ax.set_title(label(column))
    for ax in axes.ravel()[len(columns):]:
        ax.set_visible(False)
    fig.suptitle(label(f"Distributions in {title}", 80))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def save_heatmap(corr, title, path):
    n = len(corr.columns)
    fig, ax = plt.subplots(figsize=(min(13, 3 + 0.7 * n), min(12, 2 + 0.7 * n)))
    image = ax.imshow(corr.to_numpy(dtype=float), cmap="coolwarm", vmin=-1, vmax=1)
    names = [label(c, 20) for c in corr.columns]
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    for i in range(n if n <= 10 else 0):
        for j in range(n):
            if np.isfinite(corr.iat[i, j]):
                ax.text(j, i, f"{corr.iat[i, j]:.2f}", ha="center", va="center", fontsize=9)
    fig.colorbar(image, ax=ax, label="Pearson r")
    ax.set_title(label(f"Correlations in {title}", 80))
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def text_summary(table, columns):
    summary = []
    for column in columns:
        counts = table[column].dropna().astype(str).value_counts()
        top = [short(counts.index[0], 60), int(counts.iloc[0])] if len(counts) else None
        summary.append({"name": short(column, 100), "distinct": len(counts), "top": top})
    return summary


def draw_charts(numeric, corr, title, prefix):
    charts = []
    try:
        if len(numeric.columns):
            save_histograms(numeric, title, prefix + "_histograms.png")
            charts.append(prefix + "_histograms.png")
        if corr is not None:
            save_heatmap(corr, title, prefix + "_correlations.png")
            charts.append(prefix + "_correlations.png")
    except Exception as exc:  # a chart must not cost the findings
        plt.close("all")
        return charts, f"{type(exc).__name__}: {exc}"
    return charts, None


def analyze_table(name, path, suffix, delimiter, prefix):
    try:
        table, note = load_table(path, suffix, delimiter)
    except Exception as exc:
        return {"name": name, "error": f"{type(exc).__name__}: {str(exc).strip()}"}
    table.columns = [str(c) for c in table.columns]
    table = with_dates(table)
    missing = table.isna().sum()
    numeric = table.select_dtypes("number").replace([np.inf, -np.inf], np.nan)
    numeric = numeric.loc[:, numeric.notna().any()]
    corr = numeric.iloc[:, :30].corr() if len(numeric.columns) >= 2 else None
    others = list(table.select_dtypes(exclude="number").columns)
    shape = f"{name}: {len(table)} rows x {len(table.columns)} columns"
    print(shape + (f" ({note})" if note else ""))
    overview = pd.DataFrame({"type": table.dtypes.astype(str), "missing": missing})
    print("\nColumns (type, missing values):")
    print(overview.head(60).to_string())
    if len(numeric.columns):
        print("\nSummary statistics of the numeric columns:")
        print(numeric.iloc[:, :40].describe().T.to_string(float_format=lambda v: f"{v:.6g}"))
    if corr is not None:
        print("\nCorrelations (Pearson r):")
        print(corr.iloc[:15, :15].round(2).to_string())
    texts = text_summary(table, others[:5])
    if texts:
        print("\nText columns (distinct values, most frequent):")
        for t in texts:
            top = f"; {t['top'][0]!r} x{t['top'][1]}" if t["top"] else ""
            print(f"  {t['name']}: {t['distinct']} distinct{top}")
    charts, chart_problem = draw_charts(numeric, corr, name, prefix)
    has_missing = missing[missing > 0].sort_values(ascending=False, kind="stable")
    return {
        "name": name, "note": note, "rows": len(table), "columns": len(table.columns),
        "types": [[short(c, 100), str(t)] for c, t in list(table.dtypes.items())[:40]],
        "missing_total": int(missing.sum()), "missing_columns": len(has_missing),
        "missing": [[short(c, 100), int(m)] for c, m in list(has_missing.items())[:10]],
        "numeric_count": len(numeric.columns),
        "numeric": [[short(c, 100), number(s.mean()), number(s.min()), number(s.max())]
                    for c, s in list(numeric.items())[:6]],
        "correlated_columns": 0 if corr is None else len(corr.columns),
        "strongest": None if corr is None else strongest_pair(corr),
        "text": texts[:3], "charts": charts, "chart_problem": chart_problem,
    }
'''

WORDS_CODE = r'''import json
import re
from collections import Counter

COMMON_WORDS = frozenset(
    "a about after all also an and any are as at be been but by can could did do does for from"
    " had has have he her him his how i if in into is it its just me more most my no not of on"
    " one only or other our out over she so some such than that the their them then there these"
    " they this those to too up us very was we were what when which who will with would you your"
    .split()
)


def word_counts(text):
    """Words, lines, characters and the ten most common words (common English words aside)."""
    words = re.findall(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*", text.lower())
    common = Counter(w for w in words if len(w) > 1 and w not in COMMON_WORDS).most_common(10)
    return {"lines": len(text.splitlines()), "words": len(text.split()),
            "characters": len(text), "distinct_words": len(set(words)),
            "top_words": [[w[:60], n] for w, n in common]}


def print_counts(counts):
    for key in ("lines", "words", "characters", "distinct_words"):
        if key in counts:
            print(f"{key.replace('_', ' ')}: {counts[key]:,}")
    if counts["top_words"]:
        print("most common words:", ", ".join(f"{w} ({n})" for w, n in counts["top_words"]))
'''

TEXT_CODE = r"""

def analyze_text(name, path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as exc:
        return {"name": name, "error": f"{type(exc).__name__}: {exc}"}
    counts = word_counts(text)
    print(f"{name}:")
    print_counts(counts)
    return {"name": name, **counts}
"""

PDF_CODE = r"""from pypdf import PdfReader


def analyze_pdf(name, path):
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            reader.decrypt("")
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:
        return {"name": name, "error": f"{type(exc).__name__}: {str(exc).strip()}"}
    counts = word_counts("\n".join(pages))
    counts.pop("lines")
    blank = sum(1 for page in pages if not page.split())
    print(f"{name}: {len(pages)} pages, {blank} without extractable text")
    for number, page in enumerate(pages[:20], start=1):
        print(f"  page {number}: {len(page.split()):,} words")
    print_counts(counts)
    return {"name": name, "pages": len(pages), "blank_pages": blank, **counts}
"""
