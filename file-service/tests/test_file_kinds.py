"""Accepted types and the streaming content checks."""

import json

import pytest

from file_service.errors import ContentMismatch, UnsupportedFileType
from file_service.jsoncheck import FULL_PARSE_BYTES
from file_service.kinds import ContentInspector, StreamFacts, guess_media_type, upload_kind
from file_service.testing.samples import pdf_bytes, xlsx_bytes


def inspect(name: str, data: bytes, chunk: int = 1 << 20) -> StreamFacts:
    inspector = ContentInspector(name, upload_kind(name))
    for offset in range(0, len(data), chunk):
        inspector.feed(data[offset : offset + chunk])
    return inspector.finish()


@pytest.mark.parametrize("name", ["a.csv", "b.XLSX", "c.xls", "d.json", "e.txt", "f.Pdf"])
def test_the_spec_types_are_accepted(name: str) -> None:
    assert upload_kind(name) == name[name.rindex(".") :].lower()


@pytest.mark.parametrize("name", ["a.exe", "b.png", "noextension", "c.csv.zip", "d.py"])
def test_other_types_are_refused_with_the_list(name: str) -> None:
    with pytest.raises(UnsupportedFileType) as refused:
        upload_kind(name)
    assert refused.value.status_code == 415
    assert ".csv, .xlsx, .xls, .json, .txt, .pdf" in refused.value.detail


def test_media_types_are_guessed_for_any_produced_file() -> None:
    assert guess_media_type("plot.png") == "image/png"
    assert guess_media_type("data.csv") == "text/csv"
    assert guess_media_type("model.weird-ext") == "application/octet-stream"


def test_valid_files_pass_their_checks() -> None:
    inspect("a.pdf", pdf_bytes())
    inspect("a.xlsx", xlsx_bytes([["a"], [1]]))
    inspect("a.csv", b"a,b\n1,2\n")
    inspect("a.json", b'{"a": [1, 2, {"b": null}]}')
    inspect("a.txt", "héllo\n".encode())


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("a.pdf", b"hello, not a pdf" * 100, "no %PDF- header"),
        ("a.pdf", b"%PD", "no %PDF- header"),
        ("a.xlsx", b"a,b\n1,2\n", "not a zip archive"),
        ("a.xlsx", b"PK\x03\x04" + b"\x00" * 100, "truncated"),
        ("a.xls", b"PK\x03\x04 not ole", "OLE2"),
        ("a.json", b"{'single': 'quotes'}", "not valid JSON"),
        ("a.json", b"[1, 2,]", "not valid JSON"),
        ("a.json", b"[NaN]", "not valid JSON"),
        ("a.json", b"\xff\xfe[]", "invalid UTF-8"),
        ("a.csv", b"a,b\x00\x01\x02", "NUL bytes"),
        ("a.txt", b"\x7fELF\x00\x00", "NUL bytes"),
    ],
)
def test_content_that_contradicts_the_extension_is_refused(
    name: str, data: bytes, problem: str
) -> None:
    with pytest.raises(ContentMismatch) as refused:
        inspect(name, data)
    assert problem in refused.value.detail
    assert name in refused.value.detail


def big_json_array(records: int) -> bytes:
    data = json.dumps([{"id": i, "name": f"row {i}", "score": i / 3} for i in range(records)])
    return data.encode()


def test_a_large_json_document_is_checked_in_bounded_memory() -> None:
    data = big_json_array(200_000)
    assert len(data) > 2 * FULL_PARSE_BYTES
    facts = inspect("big.json", data, chunk=65_536)
    assert len(facts.head) == FULL_PARSE_BYTES
    assert facts.size == len(data)


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda data: data[:-1], "does not end with ']'"),
        (lambda data: b"[{{" + data[2:], "not valid JSON"),
        (lambda data: data.replace(b"row 7", b"row\n7", 1), "not valid JSON"),
        (lambda data: b"a,b,c\n" + data, "must be an array or object"),
        (lambda data: data[:1000] + b"\xc3\x28" + data[1000:], "invalid UTF-8"),
        (lambda data: data[:-1] + "é".encode()[:1], "UTF-8"),
    ],
)
def test_a_large_broken_json_document_is_refused(mutate: object, problem: str) -> None:
    data = mutate(big_json_array(200_000))  # type: ignore[operator]
    with pytest.raises(ContentMismatch) as refused:
        inspect("big.json", data, chunk=65_536)
    assert problem in refused.value.detail


def test_facts_count_lines_and_keep_head_and_tail() -> None:
    data = b"h\n" + b"x,y\n" * 1_000_000
    facts = inspect("a.csv", data, chunk=300_000)
    assert facts.newlines == 1_000_001
    assert facts.size == len(data)
    assert facts.tail.endswith(b"x,y\n")
    assert not facts.complete_in_head
