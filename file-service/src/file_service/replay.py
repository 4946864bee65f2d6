"""Rebuild the file list from the event store and compare it with the live one.

`python -m file_service.replay [--apply]`. Run it while no upload is in flight: a file
recorded during the rebuild makes the live list look ahead of the rebuilt one.
"""

from eventkit.replay import ReplayReport, differences, replay_main
from eventkit.store import EventStore
from file_service.view import FILE_CATEGORY, FileRow, FileView
from file_service.view_memory import InMemoryFileView

PAGE = 1000


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


async def replay(store: EventStore, live: FileView, *, apply: bool) -> ReplayReport:
    """Rebuild, compare with `live`, and with `apply` swap the rebuilt rows in."""
    rebuilt, events = await rebuild(store)
    found = differences(
        "file",
        {row.file_id: row for row in await live.dump()},
        {row.file_id: row for row in rebuilt},
    )
    if apply and found:
        await live.replace_all(rebuilt)
    return ReplayReport(
        events=events,
        rows={"files": len(rebuilt)},
        differences=found,
        applied=apply and bool(found),
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
    replay_main("file list", _run)


if __name__ == "__main__":
    main()
