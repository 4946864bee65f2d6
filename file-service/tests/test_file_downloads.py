"""Range parsing, entity tags and attachment names."""

import pytest

from file_service.downloads import (
    content_disposition,
    download_name,
    etag_of,
    none_match,
    parse_range,
    range_applies,
)
from file_service.errors import RangeNotSatisfiable
from file_service.view import GENERATED, UPLOADED, FileRow


@pytest.mark.parametrize(
    ("header", "span"),
    [
        (None, None),
        ("bytes=0-0", (0, 1)),
        ("bytes=0-99", (0, 100)),
        ("bytes=10-", (10, 100)),
        ("bytes=90-1000", (90, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=-1000", (0, 100)),
        (" bytes=5-9 ", (5, 10)),
        ("bytes=0-1,5-6", None),  # several ranges: served whole
        ("items=0-5", None),
        ("bytes=9-5", None),
        ("bytes=-", None),
        ("garbage", None),
    ],
)
def test_single_ranges_are_parsed(header: str | None, span: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == span


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0", "bytes=5000-"])
def test_ranges_outside_the_file_are_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as refused:
        parse_range(header, 100)
    assert refused.value.status_code == 416
    assert refused.value.size == 100


def test_no_range_fits_an_empty_file() -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-5", 0)


def test_if_none_match_compares_entity_tags() -> None:
    etag = etag_of("ab" * 32)
    assert none_match(etag, etag)
    assert none_match(f'"other", W/{etag}', etag)
    assert none_match("*", etag)
    assert not none_match('"other"', etag)
    assert not none_match(None, etag)


def test_if_range_with_another_tag_disables_the_range() -> None:
    etag = etag_of("cd" * 32)
    assert range_applies(None, etag)
    assert range_applies(etag, etag)
    assert not range_applies('"stale"', etag)


def test_ascii_names_get_a_plain_filename() -> None:
    assert content_disposition("data.csv") == 'attachment; filename="data.csv"'


def test_other_names_get_an_rfc_6266_filename_star() -> None:
    header = content_disposition("données 2024.csv")
    assert header == (
        "attachment; filename=\"donn_es 2024.csv\"; filename*=UTF-8''donn%C3%A9es%202024.csv"
    )


def row(origin: str, media_type: str) -> FileRow:
    return FileRow(
        file_id="file-abc",
        filename="chart.png",
        size=1,
        sha256="0" * 64,
        media_type=media_type,
        blob_key="0" * 64,
        created_at=0,
        origin=origin,
        thread_id="thread_a" if origin == GENERATED else None,
        run_id="run_a" if origin == GENERATED else None,
        profile=None,
        position=1,
    )


def test_generated_png_images_download_as_output_file_id() -> None:
    assert download_name(row(GENERATED, "image/png")) == "output_file-abc.png"
    assert download_name(row(GENERATED, "text/csv")) == "chart.png"
    assert download_name(row(UPLOADED, "image/png")) == "chart.png"
