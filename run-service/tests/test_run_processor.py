"""RunProcessor with the real sandbox: events in order, one run at a time, crashes and failures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import pytest
from runs_support import new_thread, recorded_elsewhere, request_run, types_of, utc_now

from contracts.runs import (
    AssistantMessagePosted,
    CodeExecuted,
    RunCompleted,
    RunFailed,
    RunStarted,
)
from eventkit.store import AppendResult, NewEvent
from eventkit.store_memory import InMemoryEventStore
from run_service.engines.openai_engine import OpenAIEngine
from run_service.runs.engines import Engines
from run_service.runs.files import InMemoryFileStore
from run_service.runs.processor import ENDED, INTERRUPTED, RunProcessor, answer_message_id
from run_service.sandbox import SessionPool

PLOT = (
    "```python\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n"
    "plt.savefig('line.png')\nprint('saved')\n```"
)


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore()


@pytest.fixture
def files() -> InMemoryFileStore:
    return InMemoryFileStore()


@pytest.fixture
async def processor(
    store: InMemoryEventStore, files: InMemoryFileStore, pool: SessionPool
) -> AsyncIterator[RunProcessor]:
    return RunProcessor(store, pool, files, Engines(), utc_now)


async def answer_of(store: InMemoryEventStore, thread_id: str) -> AssistantMessagePosted:
    (event,) = [
        e
        for e in await store.read_stream(thread_id)
        if e.event_type.endswith("posted") and e.data["type"] == "thread.assistant_message_posted"
    ]
    return AssistantMessagePosted.model_validate(dict(event.data))


async def test_a_run_records_each_step_and_its_answer_names_the_real_output(
    store: InMemoryEventStore, files: InMemoryFileStore, processor: RunProcessor
) -> None:
    thread_id = await new_thread(store)
    request = await request_run(store, thread_id, PLOT)

    await processor.on_event(request)

    assert (await types_of(store, thread_id))[-4:] == [
        "run.started",
        "run.code_executed",
        "thread.assistant_message_posted",
        "run.completed",
    ]
    answer = await answer_of(store, thread_id)
    assert "saved" in answer.content
    (image,) = answer.files
    (annotation,) = answer.annotations
    assert annotation.file_id == image.file_id
    assert annotation.text == "line.png"
    kept = files.files[image.file_id][1]
    assert kept.startswith(b"\x89PNG")
    assert files.produced == [(image.file_id, thread_id, request.payload["run_id"])]


async def test_a_redelivered_request_does_not_run_twice(
    store: InMemoryEventStore, processor: RunProcessor
) -> None:
    thread_id = await new_thread(store)
    request = await request_run(store, thread_id, "```python\nprint('once')\n```")

    await processor.on_event(request)
    before = await types_of(store, thread_id)
    await processor.on_event(request)

    assert await types_of(store, thread_id) == before


async def test_runs_of_a_thread_execute_in_the_order_they_were_asked_for(
    store: InMemoryEventStore, processor: RunProcessor
) -> None:
    thread_id = await new_thread(store)
    first = await request_run(store, thread_id, "```python\nx = 41\n```")
    second = await request_run(store, thread_id, "```python\nprint(x + 1)\n```")

    # The second delivery arrives first (a redelivery reordered them): the first still goes first.
    await asyncio.gather(processor.on_event(second), processor.on_event(first))

    events = await store.read_stream(thread_id)
    started = [e.data["run_id"] for e in events if e.event_type == "run.started"]
    assert started == [first.payload["run_id"], second.payload["run_id"]]
    outputs = [e.data["stdout"] for e in events if e.event_type == "run.code_executed"]
    assert outputs == ["", "42\n"]


async def test_a_run_cut_off_by_a_crash_fails_with_a_reason_and_the_next_one_runs(
    store: InMemoryEventStore, processor: RunProcessor
) -> None:
    thread_id = await new_thread(store)
    crashed = await request_run(store, thread_id, "```python\nprint(1)\n```")
    started = RunStarted(
        thread_id=thread_id,
        run_id=crashed.payload["run_id"],
        engine="no-model",
        isolation="x",
        started_at=utc_now(),
    )
    await recorded_elsewhere(store, crashed, ("started", started))
    following = await request_run(store, thread_id, "```python\nprint('after')\n```")

    await processor.on_event(following)

    events = await store.read_stream(thread_id)
    (failed,) = [
        RunFailed.model_validate(dict(e.data)) for e in events if e.event_type == "run.failed"
    ]
    assert failed.run_id == crashed.payload["run_id"]
    assert failed.reason == INTERRUPTED
    executed = [
        CodeExecuted.model_validate(dict(e.data))
        for e in events
        if e.event_type == "run.code_executed"
    ]
    assert [e.stdout for e in executed] == ["after\n"]
    assert (await types_of(store, thread_id))[-1] == "run.completed"


async def test_an_attached_file_is_in_mnt_data_under_its_name(
    store: InMemoryEventStore, files: InMemoryFileStore, processor: RunProcessor
) -> None:
    file_id = files.add("sales.csv", b"a,b\n1,2\n3,4\n")
    thread_id = await new_thread(store)
    code = (
        "```python\nimport pandas as pd\nprint(pd.read_csv('/mnt/data/sales.csv')['b'].sum())\n```"
    )

    await processor.on_event(await request_run(store, thread_id, code, file_ids=(file_id,)))

    assert "6" in (await answer_of(store, thread_id)).content


async def test_an_unknown_attached_file_fails_the_run_saying_so(
    store: InMemoryEventStore, processor: RunProcessor
) -> None:
    thread_id = await new_thread(store)
    request = await request_run(store, thread_id, "hi", file_ids=("file-doesnotexist",))

    await processor.on_event(request)

    (last,) = (await store.read_stream(thread_id))[-1:]
    assert last.event_type == "run.failed"
    assert "file-doesnotexist" in last.data["reason"]


async def test_a_model_server_that_is_down_fails_the_run_with_the_reason(
    store: InMemoryEventStore, files: InMemoryFileStore, pool: SessionPool
) -> None:
    model = OpenAIEngine("http://127.0.0.1:9/v1", "k", "m", timeout=2.0, max_retries=0)
    processor = RunProcessor(store, pool, files, Engines(model=model, model_name="m"), utc_now)
    thread_id = await new_thread(store)

    await processor.on_event(await request_run(store, thread_id, "hello"))

    events = await store.read_stream(thread_id)
    assert [e.event_type for e in events][-2:] == ["run.started", "run.failed"]
    assert events[-1].data["reason"].startswith("The model could not answer")
    assert events[-2].data["engine"] == "model:m"


async def test_a_plain_message_without_a_model_is_answered_with_how_to_configure_one(
    store: InMemoryEventStore, processor: RunProcessor
) -> None:
    thread_id = await new_thread(store)

    await processor.on_event(await request_run(store, thread_id, "What is the mean of my data?"))

    assert "CIE_MODEL_BASE_URL" in (await answer_of(store, thread_id)).content


async def test_a_run_another_replica_ended_meanwhile_gets_no_second_ending_or_answer(
    store: InMemoryEventStore, processor: RunProcessor
) -> None:
    """Two replicas overlapping on one run (one cut off from the database) end it once."""
    thread_id = await new_thread(store)
    request = await request_run(
        store, thread_id, "```python\nimport time\ntime.sleep(1)\nprint('late')\n```"
    )
    run_id = request.payload["run_id"]
    running = asyncio.create_task(processor.on_event(request))
    async with asyncio.timeout(10):  # the run has started here...
        while "run.started" not in await types_of(store, thread_id):
            await asyncio.sleep(0.02)
    # ...when the replica that took the thread over fails it as interrupted, as it would.
    failed = RunFailed(thread_id=thread_id, run_id=run_id, reason=INTERRUPTED, failed_at=utc_now())
    await recorded_elsewhere(store, request, (ENDED, failed))
    await running

    types = await types_of(store, thread_id)
    assert types.count("run.failed") == 1
    assert "run.completed" not in types
    assert "thread.assistant_message_posted" not in types


async def test_a_thread_whose_code_ran_in_another_session_is_told_its_variables_are_gone(
    store: InMemoryEventStore, processor: RunProcessor
) -> None:
    """E.g. its partition was on another replica: the answer says the session restarted."""
    thread_id = await new_thread(store)
    earlier = await request_run(store, thread_id, "```python\nx = 1\n```")
    ran_elsewhere = CodeExecuted(
        thread_id=thread_id,
        run_id=earlier.payload["run_id"],
        step=0,
        code="x = 1",
        duration_ms=1.0,
    )
    ended = RunFailed(
        thread_id=thread_id, run_id=earlier.payload["run_id"], reason="x", failed_at=utc_now()
    )
    await recorded_elsewhere(store, earlier, ("code:0", ran_elsewhere), (ENDED, ended))
    request = await request_run(store, thread_id, "```python\nprint('here now')\n```")

    await processor.on_event(request)

    answer = await answer_of(store, thread_id)
    assert "here now" in answer.content
    assert "restarted" in answer.content


class _TimedStore(InMemoryEventStore):
    """Notes when each event type was first appended (wall clock)."""

    def __init__(self) -> None:
        super().__init__()
        self.appended_at: dict[str, float] = {}

    async def append(
        self, stream_id: str, events: Sequence[NewEvent], *, expected_version: int | None
    ) -> AppendResult:
        result = await super().append(stream_id, events, expected_version=expected_version)
        for event in events:
            self.appended_at.setdefault(str(event.data.get("type")), time.time())
        return result


async def test_the_run_is_on_record_as_started_before_its_code_runs(
    files: InMemoryFileStore, pool: SessionPool
) -> None:
    # Issue 12: `run.started` waited in the recorder's buffer while the code ran, so a crash
    # mid-execution left no trace of the start and the redelivered request ran the user's
    # code again. The code notes when it began; the store, when the start was appended.
    store = _TimedStore()
    processor = RunProcessor(store, pool, files, Engines(), utc_now)
    thread_id = await new_thread(store)
    await processor.on_event(await request_run(store, thread_id, "```python\n1\n```"))
    store.appended_at.clear()  # the thread's session is warm now: the next code starts at once
    code = "```python\nimport time\nprint(repr(time.time()))\n```"
    await processor.on_event(await request_run(store, thread_id, code))
    executed = [
        e for e in await store.read_stream(thread_id) if e.event_type == "run.code_executed"
    ]
    code_began = float(executed[-1].data["stdout"])
    assert store.appended_at["run.started"] < code_began


async def test_a_session_is_fresh_once_the_thread_s_code_ran_elsewhere(
    store: InMemoryEventStore, processor: RunProcessor
) -> None:
    # The session here stays across runs, but not once another replica ran the thread's code
    # (e.g. while this one had lost its partitions): its variables would be stale.
    thread_id = await new_thread(store)
    await processor.on_event(await request_run(store, thread_id, "```python\nv = 1\n```"))
    kept = await request_run(store, thread_id, "```python\nprint('v' in globals())\n```")
    await processor.on_event(kept)
    elsewhere = await request_run(store, thread_id, "```python\nv = 2\n```")
    run_id = str(elsewhere.payload["run_id"])
    await recorded_elsewhere(
        store,
        elsewhere,
        (
            "started",
            RunStarted(
                thread_id=thread_id,
                run_id=run_id,
                engine="direct",
                isolation="elsewhere",
                started_at=utc_now(),
            ),
        ),
        (
            "code:0",
            CodeExecuted(thread_id=thread_id, run_id=run_id, step=0, code="v = 2", duration_ms=1.0),
        ),
        (
            "ended",
            RunCompleted(
                thread_id=thread_id,
                run_id=run_id,
                message_id=answer_message_id(run_id),
                steps=1,
                completed_at=utc_now(),
            ),
        ),
    )
    after = await request_run(store, thread_id, "```python\nprint('v' in globals())\n```")
    await processor.on_event(after)
    executed = [
        CodeExecuted.model_validate(dict(e.data))
        for e in await store.read_stream(thread_id)
        if e.event_type == "run.code_executed"
    ]
    assert executed[1].stdout == "True\n"  # the same session, the next run
    assert executed[-1].stdout == "False\n"  # a fresh one after code ran elsewhere
    assert executed[-1].state_lost
