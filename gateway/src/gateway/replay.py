"""Rebuild the messages view from the event store and compare it with the live one.

`make replay` (or `python -m gateway.replay [--apply]`). Run it while the system is quiet:
events appended during the rebuild make the live view look ahead of the rebuilt one.
"""

from eventkit.replay import ReplayReport, differences, replay_main
from eventkit.store import EventStore
from gateway.projections.messages import MessagesView, ViewDump
from gateway.projections.messages_memory import InMemoryMessagesView
from gateway.projections.projector import THREAD_CATEGORY

PAGE = 1000


async def rebuild(store: EventStore) -> tuple[ViewDump, int]:
    """The messages view folded from every thread event, and how many events that took."""
    view = InMemoryMessagesView()
    position, count = 0, 0
    while batch := await store.read_all(
        after_position=position, limit=PAGE, category=THREAD_CATEGORY
    ):
        for event in batch:
            await view.apply(event.stream_id, [event])
        position, count = batch[-1].global_position, count + len(batch)
    return await view.dump(), count


def dump_differences(live: ViewDump, rebuilt: ViewDump) -> list[str]:
    """Rows that differ, threads keyed by thread id and messages by message id."""
    return differences(
        "thread",
        {row.thread_id: row for row in live.threads},
        {row.thread_id: row for row in rebuilt.threads},
    ) + differences(
        "message", {row.id: row for row in live.messages}, {row.id: row for row in rebuilt.messages}
    )


async def replay(store: EventStore, live: MessagesView, *, apply: bool) -> ReplayReport:
    """Rebuild, compare with `live`, and with `apply` swap the rebuilt rows in."""
    rebuilt, events = await rebuild(store)
    found = dump_differences(await live.dump(), rebuilt)
    if apply and found:
        await live.replace_all(rebuilt)
    return ReplayReport(
        events=events,
        rows={"threads": len(rebuilt.threads), "messages": len(rebuilt.messages)},
        differences=found,
        applied=apply and bool(found),
    )


async def _run(url: str, apply: bool) -> ReplayReport:
    from eventkit.sql import create_engine
    from eventkit.store_sql import sql_event_store
    from gateway.migrate import upgrade_all
    from gateway.projections.messages_sql import SqlMessagesView

    await upgrade_all(url)
    engine = create_engine(url)
    try:
        return await replay(sql_event_store(engine), SqlMessagesView(engine), apply=apply)
    finally:
        await engine.dispose()


def main() -> None:
    """CLI: exit 0 when the live view matches the rebuild (or was replaced by it), else 1."""
    replay_main("messages view", _run)


if __name__ == "__main__":
    main()
