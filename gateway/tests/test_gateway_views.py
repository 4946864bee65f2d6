"""The messages view contract, run against the in-memory view and the SQL views."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.threads import ThreadCreated, UserMessagePosted
from eventkit.store import StoredEvent
from gateway.projections.messages import NOT_PROJECTED, MessagesView, ProjectionGap, ViewDump
from gateway.projections.messages_memory import InMemoryMessagesView

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def stored(thread_id: str, version: int, payload: ThreadCreated | UserMessagePosted) -> StoredEvent:
    return StoredEvent(
        global_position=version + 1,
        stream_id=thread_id,
        stream_version=version,
        event_id=uuid4(),
        event_type=payload.type,
        schema_version=1,
        data=payload.model_dump(mode="json"),
        metadata={},
        recorded_at=NOW,
    )


def history(thread_id: str, messages: int) -> list[StoredEvent]:
    events = [stored(thread_id, 0, ThreadCreated(thread_id=thread_id, created_at=NOW))]
    for i in range(messages):
        posted = UserMessagePosted(
            thread_id=thread_id,
            message_id=f"msg_{thread_id[7:]}{i}",
            content=f"m{i}",
            created_at=NOW,
        )
        events.append(stored(thread_id, i + 1, posted))
    return events


def new_thread() -> str:
    return f"thread_{uuid4().hex}"


class MessagesViewContract:
    @pytest.fixture
    def view(self) -> MessagesView:
        raise NotImplementedError

    async def test_unknown_thread_has_no_version_row_or_messages(self, view: MessagesView) -> None:
        thread = new_thread()
        assert await view.version_of(thread) == NOT_PROJECTED
        assert await view.thread(thread) is None
        assert await view.messages(thread) == []

    async def test_applied_history_shows_messages_oldest_first(self, view: MessagesView) -> None:
        thread = new_thread()
        await view.apply(thread, history(thread, 3))
        assert await view.version_of(thread) == 3
        row = await view.thread(thread)
        assert row is not None
        assert row.created_at == int(NOW.timestamp())
        assert [m.content for m in await view.messages(thread)] == ["m0", "m1", "m2"]
        assert all(m.role == "user" and m.annotations == () for m in await view.messages(thread))

    async def test_reapplying_events_changes_nothing(self, view: MessagesView) -> None:
        thread = new_thread()
        events = history(thread, 2)
        await view.apply(thread, events)
        await view.apply(thread, events)
        await view.apply(thread, events[1:2])
        assert [m.content for m in await view.messages(thread)] == ["m0", "m1"]

    async def test_a_gap_is_refused(self, view: MessagesView) -> None:
        thread = new_thread()
        events = history(thread, 3)
        await view.apply(thread, events[:2])
        with pytest.raises(ProjectionGap):
            await view.apply(thread, events[3:])
        assert await view.version_of(thread) == 1

    async def test_replace_all_then_dump_round_trips(self, view: MessagesView) -> None:
        source = InMemoryMessagesView()
        for thread in (new_thread(), new_thread()):
            await source.apply(thread, history(thread, 2))
        wanted = await source.dump()
        await view.replace_all(wanted)
        assert await view.dump() == wanted
        await view.replace_all(ViewDump())
        assert await view.dump() == ViewDump()


class TestInMemoryMessagesView(MessagesViewContract):
    @pytest.fixture
    def view(self) -> MessagesView:
        return InMemoryMessagesView()


class TestSqliteMessagesView(MessagesViewContract):
    @pytest.fixture
    async def view(self, tmp_path: Path) -> AsyncIterator[MessagesView]:
        from eventkit.sql import create_engine
        from gateway.migrate import upgrade_all
        from gateway.projections.messages_sql import SqlMessagesView

        url = f"sqlite+aiosqlite:///{tmp_path / 'views.db'}"
        await upgrade_all(url)
        engine = create_engine(url)
        yield SqlMessagesView(engine)
        await engine.dispose()


@pytest.mark.postgres
class TestPostgresMessagesView(MessagesViewContract):
    @pytest.fixture
    async def view(self, gateway_pg_engine: AsyncEngine) -> MessagesView:
        from gateway.projections.messages_sql import SqlMessagesView

        return SqlMessagesView(gateway_pg_engine)
