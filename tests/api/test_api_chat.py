"""/api/chat and /api/analyze as a client sees them: real runs in the real sandbox, no model."""

import httpx

FENCED = "Please run this:\n```python\nx = 6 * 7\nprint('the answer is', x)\n```"
PLOT = "```python\nimport matplotlib.pyplot as plt\nplt.plot(range(1000))\nplt.title('ramp')\n```"


async def chat(client: httpx.AsyncClient, **body: object) -> httpx.Response:
    return await client.post("/api/chat", json=body)


async def test_chat_runs_fenced_code_and_answers_with_what_it_printed(
    client: httpx.AsyncClient,
) -> None:
    response = await chat(client, message=FENCED)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["thread_id"].startswith("thread_")
    assert "the answer is 42" in body["message"]
    assert body["files"] == []
    assert body["annotations"] == []


async def test_variables_survive_between_messages_of_a_thread(client: httpx.AsyncClient) -> None:
    first = (await chat(client, message=FENCED)).json()

    second = await chat(
        client, message="```python\nprint(x + 1)\n```", thread_id=first["thread_id"]
    )

    assert second.status_code == 200, second.text
    assert "43" in second.json()["message"]


async def test_a_chart_comes_back_as_a_downloadable_png(client: httpx.AsyncClient) -> None:
    body = (await chat(client, message=PLOT)).json()

    (image,) = body["files"]
    (annotation,) = body["annotations"]
    assert image["type"] == "image_file"
    assert annotation["file_id"] == image["file_id"]
    assert annotation["type"] == "file_path"
    assert annotation["text"].endswith(".png")
    download = await client.get(f"/api/file/{image['file_id']}")
    assert download.status_code == 200
    assert download.content.startswith(b"\x89PNG")
    assert f"output_{image['file_id']}.png" in download.headers["content-disposition"]


async def test_the_thread_shows_the_question_and_the_answer_with_its_annotations(
    client: httpx.AsyncClient,
) -> None:
    body = (await chat(client, message=PLOT)).json()

    messages = (await client.get(f"/api/thread/{body['thread_id']}/messages")).json()["messages"]

    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"] == PLOT
    assert messages[1]["content"] == body["message"]
    assert messages[1]["annotations"] == body["annotations"]


async def test_every_step_of_the_run_is_in_the_thread_events(client: httpx.AsyncClient) -> None:
    body = (await chat(client, message=FENCED)).json()

    events = (await client.get(f"/api/thread/{body['thread_id']}/events")).json()["events"]

    assert [e["type"] for e in events] == [
        "thread.created",
        "thread.user_message_posted",
        "run.requested",
        "run.started",
        "run.code_executed",
        "thread.assistant_message_posted",
        "run.completed",
    ]
    executed = events[4]["payload"]
    assert executed["stdout"] == "the answer is 42\n"
    assert executed["error"] is None
    assert {e["correlation_id"] for e in events[1:]} == {events[1]["correlation_id"]}


async def test_an_error_in_the_code_is_shown_with_its_traceback(client: httpx.AsyncClient) -> None:
    body = (await chat(client, message="```python\nx = 1\n1 / 0\n```")).json()

    assert "ZeroDivisionError" in body["message"]
    assert "Traceback" in body["message"]
    assert 'File "<cell>", line 2, in <module>' in body["message"]
    assert "    1 / 0" in body["message"]
    assert "worker.py" not in body["message"]
    assert "/opt/cie" not in body["message"]


async def test_a_syntax_error_is_shown_against_the_users_line(client: httpx.AsyncClient) -> None:
    body = (await chat(client, message="```python\nprint('ok')\nif True print(2)\n```")).json()

    assert "SyntaxError" in body["message"]
    assert 'File "<cell>", line 2' in body["message"]
    assert "if True print(2)" in body["message"]
    assert "worker.py" not in body["message"]
    assert "ast.py" not in body["message"]


async def test_the_answer_shows_the_code_it_ran_then_its_output(
    client: httpx.AsyncClient,
) -> None:
    response = await chat(client, message="```python\nprint(1+1)\n```")

    assert response.status_code == 200, response.text
    message = response.json()["message"]
    assert message.startswith("**The code**\n\n```python\nprint(1+1)\n```\n\n"), message
    assert "Output:\n```\n2\n```" in message
    assert message.index("print(1+1)") < message.index("Output:")


async def test_several_blocks_each_show_their_code_and_output_in_order(
    client: httpx.AsyncClient,
) -> None:
    message = "First\n```python\na = 20\nprint(a)\n```\nthen\n```python\nprint(a + 22)\n```"

    answer = (await chat(client, message=message)).json()["message"]

    pieces = [
        "**Block 1 of 2**",
        "```python\na = 20\nprint(a)\n```",
        "Output:\n```\n20\n```",
        "**Block 2 of 2**",
        "```python\nprint(a + 22)\n```",
        "Output:\n```\n42\n```",
    ]
    positions = [answer.index(piece) for piece in pieces]
    assert positions == sorted(positions), answer


async def test_a_plot_does_not_print_the_repr_of_its_last_artist(
    client: httpx.AsyncClient,
) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([3, 1, 2])\nplt.ylabel('Units')"

    body = (await chat(client, message=f"```python\n{code}\n```")).json()

    assert "Text(" not in body["message"]
    assert "Result" not in body["message"]
    assert len(body["files"]) == 1
    plain = (await chat(client, message="```python\n6 * 7\n```")).json()
    assert "Result:\n```\n42\n```" in plain["message"]


async def test_a_plain_message_without_a_model_says_how_to_configure_one(
    client: httpx.AsyncClient,
) -> None:
    body = (await chat(client, message="Make me a bar chart of sales")).json()

    assert "No model is configured" in body["message"]
    assert "CIE_MODEL_BASE_URL" in body["message"]


async def test_without_the_code_interpreter_and_without_a_model_it_says_so(
    client: httpx.AsyncClient,
) -> None:
    body = (await chat(client, message=FENCED, use_code_interpreter=False)).json()

    assert "code interpreter is off" in body["message"]
    assert "the answer is" not in body["message"]


async def test_unknown_thread_and_file_are_404_and_leave_nothing_behind(
    client: httpx.AsyncClient,
) -> None:
    missing_thread = await chat(client, message=FENCED, thread_id="thread_doesnotexist")
    missing_file = await chat(client, message=FENCED, file_ids=["file-doesnotexist"])

    assert missing_thread.status_code == 404
    assert "thread_doesnotexist" in missing_thread.json()["detail"]
    assert missing_file.status_code == 404
    assert "file-doesnotexist" in missing_file.json()["detail"]


async def test_bad_chat_inputs_get_a_clear_4xx(client: httpx.AsyncClient) -> None:
    cases = [
        ({"message": ""}, 422),
        ({}, 422),
        ({"message": "hi", "thread_id": "../etc"}, 400),
        ({"message": "hi", "file_ids": ["nope"]}, 400),
        ({"message": "hi", "file_ids": [f"file-{i}" for i in range(21)]}, 422),
        ({"message": "a\x00b"}, 400),
        ({"message": "hi", "use_code_interpreter": "maybe"}, 422),
        ({"message": "hi", "unexpected": 1}, 422),
    ]
    for body, status in cases:
        response = await client.post("/api/chat", json=body)
        assert response.status_code == status, (body, response.text)
        assert isinstance(response.json()["detail"], str), body


async def test_analyze_profiles_an_uploaded_csv_and_draws_a_chart(
    client: httpx.AsyncClient,
) -> None:
    rows = "\n".join(f"{i},{i * 2},{'' if i == 3 else i % 5}" for i in range(1, 41))
    upload = await client.post(
        "/api/upload", files={"file": ("measurements.csv", f"a,b,c\n{rows}\n", "text/csv")}
    )
    file_id = upload.json()["file_id"]

    response = await client.post(
        "/api/analyze", json={"prompt": "Analyze this dataset", "file_ids": [file_id]}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert "measurements.csv" in body["message"]
    assert "40 rows" in body["message"]
    assert "3 columns" in body["message"]
    assert body["files"], "at least one chart"
    for image in body["files"]:
        png = await client.get(f"/api/file/{image['file_id']}")
        assert png.content.startswith(b"\x89PNG")


async def test_analyze_with_an_unknown_file_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/analyze", json={"prompt": "go", "file_ids": ["file-doesnotexist"]}
    )
    assert response.status_code == 404


async def test_each_route_of_the_spec_is_in_the_openapi_docs(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    for path in (
        "/api/chat",
        "/api/analyze",
        "/api/examples/data-analysis",
        "/api/examples/math-computation",
        "/api/examples/image-generation",
    ):
        assert "post" in paths[path], path


async def test_the_examples_really_compute_and_return_their_charts(
    client: httpx.AsyncClient,
) -> None:
    expected = {
        "data-analysis": ("Generated 100 sales records", 1),
        "math-computation": ("4181", 1),
        "image-generation": ("correlation", 3),
    }
    threads = set()
    for example, (phrase, images) in expected.items():
        response = await client.post(f"/api/examples/{example}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert phrase in body["message"], example
        assert len(body["files"]) == images, example
        for image in body["files"]:
            png = await client.get(f"/api/file/{image['file_id']}")
            assert png.content.startswith(b"\x89PNG"), example
        threads.add(body["thread_id"])
    assert len(threads) == 3  # each example in a thread of its own
