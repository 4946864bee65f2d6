"""Rebuild the file list from the event store and compare it with the live one.

`python -m file_service.replay [--apply]`. Run it while no upload is in flight: a file
recorded during the rebuild makes the live list look ahead of the rebuilt one.
"""

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from eventkit.store import EventStore
from file_service.view import FILE_CATEGORY, FileRow, FileView
from file_service.view_memory import InMemoryFileView

PAGE = 1000
SHOWN_DIFFERENCES = 20
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/cie.db"


@dataclass(frozen=True)
class ReplayReport:
    """What a replay found: how many events and files, and the rows that differ."""

    events: int
    files: int
    differences: list[str] = field(default_factory=list)
    applied: bool = False

    @property
    def matches(self) -> bool:
        """Whether the live list equals the rebuilt one."""
        return not self.differences


async def rebuild(store: EventStore) -> tuple[tuple[FileRow, ...], int]:
    """The file list folded from every file event, and how many events that took."""
    view = InMemoryFileView()
    position = count = 0
    while batch := await store.read_all(
        after_position=position, limit=PAGE, category=FILE_CATEGORY
    ):
        await view.apply(batch)
        position, count = batch[-1].global_position, count + len(batch)
    return await view.dump(), count


def differences(live: Sequence[FileRow], rebuilt: Sequence[FileRow]) -> list[str]:
    """Human-readable differences, rows keyed by file id."""
    have = {row.file_id: row for row in live}
    want = {row.file_id: row for row in rebuilt}
    return [
        f"file {key}: live {have.get(key)} != rebuilt {want.get(key)}"
        for key in sorted(have.keys() | want.keys())
        if have.get(key) != want.get(key)
    ]


async def replay(store: EventStore, live: FileView, *, apply: bool) -> ReplayReport:
    """Rebuild, compare with `live`, and with `apply` swap the rebuilt rows in."""
    rebuilt, events = await rebuild(store)
    found = differences(await live.dump(), rebuilt)
    if apply and found:
        await live.replace_all(rebuilt)
    return ReplayReport(
        events=events, files=len(rebuilt), differences=found, applied=apply and bool(found)
    )


async def _run(url: str, apply: bool) -> ReplayReport:
    from eventkit.sql import create_engine
    from eventkit.store_sql import sql_event_store
    from file_service.migrate import upgrade_all
    from file_service.view_sql import SqlFileView

    await upgrade_all(url)
    engine = create_engine(url)
    try:
        return await replay(sql_event_store(engine), SqlFileView(engine), apply=apply)
    finally:
        await engine.dispose()


def main() -> None:
    """CLI: exit 0 when the live list matches the rebuild (or was replaced by it), else 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--database-url", default=os.environ.get("CIE_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--apply", action="store_true", help="replace the live list by the rebuild")
    args = parser.parse_args()
    report = asyncio.run(_run(args.database_url, args.apply))
    print(f"replayed {report.events} file events: {report.files} files")
    for line in report.differences[:SHOWN_DIFFERENCES]:
        print(f"  differs: {line}")
    if len(report.differences) > SHOWN_DIFFERENCES:
        print(f"  … and {len(report.differences) - SHOWN_DIFFERENCES} more")
    if report.matches:
        print("file list: matches the event store")
    elif report.applied:
        print(f"file list: {len(report.differences)} differences; replaced by the rebuild")
    else:
        print(f"file list: {len(report.differences)} differences (run with --apply to fix)")
    sys.exit(0 if report.matches or report.applied else 1)


if __name__ == "__main__":
    main()
