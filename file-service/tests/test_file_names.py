"""Sanitising client file names."""

import pytest

from file_service.names import MAX_NAME_BYTES, extension_of, sanitise_filename


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("data.csv", "data.csv"),
        ("../../etc/passwd", "passwd"),
        ("/abs/path/report.pdf", "report.pdf"),
        ("C:\\Users\\eve\\Desktop\\sales.xlsx", "sales.xlsx"),
        ("..", "file"),
        ("../..", "file"),
        (".csv", "file.csv"),
        ("..\\..\\x.json", "x.json"),
        ("a\x00b.csv", "ab.csv"),
        ("line\nbreak\t.txt", "linebreak.txt"),
        ("\x1b[31mred.txt", "[31mred.txt"),
        ("", "file"),
        ("   ", "file"),
        ("a:b?c*.json", "a_b_c_.json"),
        ('say "hi".txt', "say _hi_.txt"),
        ("trailing. . .", "trailing"),
        (".hidden.txt", "hidden.txt"),
    ],
)
def test_names_are_reduced_to_one_safe_component(raw: str, expected: str) -> None:
    assert sanitise_filename(raw) == expected


def test_bidi_overrides_and_zero_width_characters_are_dropped() -> None:
    # U+202E would make "invoice\u202efdp.exe" display as "invoiceexe.pdf".
    assert sanitise_filename("invoice\u202efdp.exe") == "invoicefdp.exe"
    assert sanitise_filename("da\u200bta\u2066.csv") == "data.csv"


def test_unicode_is_normalised_to_nfc() -> None:
    decomposed = "re\u0301sume\u0301.pdf"
    assert sanitise_filename(decomposed) == "r\u00e9sum\u00e9.pdf"
    assert sanitise_filename("データ.csv") == "データ.csv"


def test_very_long_names_are_cut_but_keep_their_extension() -> None:
    name = sanitise_filename("x" * 5000 + ".xlsx")
    assert name.endswith(".xlsx")
    assert len(name.encode()) == MAX_NAME_BYTES


def test_cutting_multibyte_names_never_splits_a_character() -> None:
    name = sanitise_filename("é" * 300 + ".csv")
    assert name.endswith(".csv")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert set(name.removesuffix(".csv")) == {"é"}


@pytest.mark.parametrize(
    ("name", "extension"),
    [("a.CSV", ".csv"), ("a.tar.gz", ".gz"), ("noext", ""), ("a.", ""), ("a.b c", "")],
)
def test_extension_of(name: str, extension: str) -> None:
    assert extension_of(name) == extension
