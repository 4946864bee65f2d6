from datetime import UTC, datetime

import pytest

from contracts.threads import CreateThread, PostUserMessage, ThreadCreated, UserMessagePosted
from thread_service import domain
from thread_service.errors import ThreadAlreadyExists, ThreadNotFound

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
THREAD = "thread_abc123"


def test_creating_a_thread_records_when_it_was_created() -> None:
    events = domain.create_thread(None, CreateThread(thread_id=THREAD), now=NOW)
    assert events == [ThreadCreated(thread_id=THREAD, created_at=NOW)]


def test_creating_a_thread_twice_is_refused() -> None:
    state = domain.fold([ThreadCreated(thread_id=THREAD, created_at=NOW)])
    with pytest.raises(ThreadAlreadyExists):
        domain.create_thread(state, CreateThread(thread_id=THREAD), now=NOW)


def test_posting_to_a_missing_thread_is_refused() -> None:
    command = PostUserMessage(thread_id=THREAD, message_id="msg_1", content="hi")
    with pytest.raises(ThreadNotFound):
        domain.post_user_message(None, command, now=NOW)


def test_posting_records_the_message_and_counts_it() -> None:
    state = domain.fold([ThreadCreated(thread_id=THREAD, created_at=NOW)])
    command = PostUserMessage(thread_id=THREAD, message_id="msg_1", content="hi")
    events = domain.post_user_message(state, command, now=NOW)
    assert events == [
        UserMessagePosted(thread_id=THREAD, message_id="msg_1", content="hi", created_at=NOW)
    ]
    assert domain.fold([ThreadCreated(thread_id=THREAD, created_at=NOW), *events]) == domain.Thread(
        thread_id=THREAD, created_at=NOW, message_count=1
    )


def test_a_message_before_the_thread_exists_is_an_invalid_history() -> None:
    message = UserMessagePosted(thread_id=THREAD, message_id="msg_1", content="x", created_at=NOW)
    with pytest.raises(ValueError, match="cannot follow"):
        domain.fold([message])
