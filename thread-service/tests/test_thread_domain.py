from datetime import UTC, datetime

import pytest

from contracts.runs import RequestRun, RunRequested
from contracts.threads import CreateThread, PostUserMessage, ThreadCreated, UserMessagePosted
from thread_service import domain
from thread_service.errors import InvalidCommand, ThreadAlreadyExists, ThreadNotFound

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
    with pytest.raises(ValueError, match="cannot start a thread"):
        domain.fold([message])


def _open_thread() -> domain.Thread:
    state = domain.fold([ThreadCreated(thread_id=THREAD, created_at=NOW)])
    assert state is not None
    return state


def test_requesting_a_chat_run_posts_the_message_then_the_request() -> None:
    command = RequestRun(thread_id=THREAD, run_id="run_1", message_id="msg_1", content="hi")
    events = domain.request_run(_open_thread(), command, now=NOW)
    assert [type(e) for e in events] == [UserMessagePosted, RunRequested]
    assert events[1] == RunRequested(
        thread_id=THREAD, run_id="run_1", message_id="msg_1", requested_at=NOW
    )


def test_an_example_run_has_no_user_message() -> None:
    command = RequestRun(thread_id=THREAD, run_id="run_1", kind="example", example="data-analysis")
    (event,) = domain.request_run(_open_thread(), command, now=NOW)
    assert isinstance(event, RunRequested)
    assert event.example == "data-analysis"


@pytest.mark.parametrize(
    "command",
    [
        RequestRun(thread_id=THREAD, run_id="run_1"),  # a chat without a message
        RequestRun(thread_id=THREAD, run_id="run_1", content="hi"),  # no message id
        RequestRun(thread_id=THREAD, run_id="run_1", kind="example"),  # which example?
        RequestRun(
            thread_id=THREAD,
            run_id="run_1",
            message_id="msg_1",
            content="x",
            example="math-computation",
        ),
    ],
)
def test_inconsistent_run_requests_are_refused(command: RequestRun) -> None:
    with pytest.raises(InvalidCommand):
        domain.request_run(_open_thread(), command, now=NOW)


def test_a_run_on_a_missing_thread_is_refused() -> None:
    command = RequestRun(thread_id=THREAD, run_id="run_1", message_id="msg_1", content="hi")
    with pytest.raises(ThreadNotFound):
        domain.request_run(None, command, now=NOW)


def test_run_events_in_the_stream_leave_the_thread_as_it_was() -> None:
    posted = RunRequested(thread_id=THREAD, run_id="run_1", requested_at=NOW)
    assert domain.fold([ThreadCreated(thread_id=THREAD, created_at=NOW), posted]) == _open_thread()
