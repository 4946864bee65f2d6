"""Rebuild the read models from the event store and compare them with the live ones.

`make replay` (or `python -m gateway.replay [--apply]`). Run it while the system is quiet:
events appended during the rebuild make the live view look ahead of the rebuilt one.
"""

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass, field

from eventkit.store import EventStore
from gateway.projections.messages import MessagesView, ViewDump
from gateway.projections.messages_memory import InMemoryMessagesView
from gateway.projections.projector import THREAD_CATEGORY

PAGE = 1000
SHOWN_DIFFERENCES = 20
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/cie.db"


@dataclass(frozen=True)
class ReplayReport:
    """What a replay found: sizes, and the rows that differ between live and rebuilt."""

    events: int
    threads: int
    messages: int
    differences: list[str] = field(default_factory=list)
    applied: bool = False

    @property
    def matches(self) -> bool:
        """Whether the live view equals the rebuilt one."""
        return not self.differences


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


def differences(live: ViewDump, rebuilt: ViewDump) -> list[str]:
    """Human-readable differences, rows keyed by thread id and message id."""
    found: list[str] = []
    for kind, have, want in (
        (
            "thread",
            {r.thread_id: r for r in live.threads},
            {r.thread_id: r for r in rebuilt.threads},
        ),
        ("message", {r.id: r for r in live.messages}, {r.id: r for r in rebuilt.messages}),
    ):
        for key in sorted(have.keys() | want.keys()):
            if have.get(key) != want.get(key):
                found.append(f"{kind} {key}: live {have.get(key)} != rebuilt {want.get(key)}")
    return found


async def replay(store: EventStore, live: MessagesView, *, apply: bool) -> ReplayReport:
    """Rebuild, compare with `live`, and with `apply` swap the rebuilt rows in."""
    rebuilt, events = await rebuild(store)
    found = differences(await live.dump(), rebuilt)
    if apply and found:
        await live.replace_all(rebuilt)
    return ReplayReport(
        events=events,
        threads=len(rebuilt.threads),
        messages=len(rebuilt.messages),
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--database-url", default=os.environ.get("CIE_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--apply", action="store_true", help="replace the live view by the rebuild")
    args = parser.parse_args()
    report = asyncio.run(_run(args.database_url, args.apply))
    print(f"replayed {report.events} events: {report.threads} threads, {report.messages} messages")
    for line in report.differences[:SHOWN_DIFFERENCES]:
        print(f"  differs: {line}")
    if len(report.differences) > SHOWN_DIFFERENCES:
        print(f"  … and {len(report.differences) - SHOWN_DIFFERENCES} more")
    if report.matches:
        print("messages view: matches the event store")
    elif report.applied:
        print(f"messages view: {len(report.differences)} differences; replaced by the rebuild")
    else:
        print(f"messages view: {len(report.differences)} differences (run with --apply to fix)")
    sys.exit(0 if report.matches or report.applied else 1)


if __name__ == "__main__":
    main()
