"""The OpenAPI document tells the truth: schemathesis sends what it describes (valid and
invalid data), and every answer must have a documented status, content type and shape, and
none may be a 5xx.

Every operation of /openapi.json is covered; the code-running ones (chat, analyze, examples)
with a smaller budget. Links (create a thread, then read it; upload, then download) are
followed by a stateful run, and the answers only real ids reach (messages with annotations,
meta, ranges, 304) are checked with cases built here. The app runs in-process over ASGI.
"""

import copy
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.openapi_support import SharedLifespan, openapi_document, served_gateway

__all__ = ["served_gateway"]  # the fixture, for pytest

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
RUNS_CODE = "^(chat|examples)$"  # tags of the operations that run code in the sandbox
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)

DOCUMENT = openapi_document()
schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT))  # it edits what it is given

pytestmark = pytest.mark.timeout(240)


@settings(FUZZ, max_examples=30)
@schema.exclude(tag_regex=RUNS_CODE).parametrize()
def test_quick_operations_answer_as_documented(
    case: schemathesis.Case, served_gateway: SharedLifespan
) -> None:
    case.call_and_validate(app=served_gateway, checks=CHECKS)


@settings(FUZZ, max_examples=5)
@schema.include(tag_regex=RUNS_CODE).parametrize()
def test_code_running_operations_answer_as_documented(
    case: schemathesis.Case, served_gateway: SharedLifespan
) -> None:
    case.call_and_validate(app=served_gateway, checks=CHECKS)


def test_linked_operations_answer_as_documented(served_gateway: SharedLifespan) -> None:
    """Follows the links: a new thread's messages and events, an upload's meta and bytes."""
    machine: Any = schema.exclude(tag_regex=RUNS_CODE).as_state_machine()

    class Linked(machine):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"app": served_gateway}

        def validate_response(
            self, response: schemathesis.Response, case: schemathesis.Case, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS)

    Linked.run(settings=settings(FUZZ, max_examples=25, stateful_step_count=8))


def operation_case(path: str, method: str, **data: Any) -> schemathesis.Case:
    return schema[path][method].Case(**data)


def test_answers_only_real_ids_reach_are_as_documented(served_gateway: SharedLifespan) -> None:
    """An example's thread (messages with files and annotations, its events) and its image
    (meta, the bytes, a range, 304, 416) answer as documented."""
    checked = {"app": served_gateway, "checks": CHECKS}
    answer = operation_case("/api/examples/image-generation", "POST").call_and_validate(**checked)
    assert answer.status_code == 200, answer.text
    thread_id, file_id = answer.json()["thread_id"], answer.json()["files"][0]["file_id"]
    thread = {"path_parameters": {"thread_id": thread_id}}
    messages = operation_case("/api/thread/{thread_id}/messages", "GET", **thread)
    listed = messages.call_and_validate(**checked).json()["messages"]
    assert any(message["annotations"] for message in listed)  # their schema was checked
    events = operation_case("/api/thread/{thread_id}/events", "GET", **thread, query={"limit": 2})
    assert events.call_and_validate(**checked).json()["next_from_version"] == 2
    file = {"path_parameters": {"file_id": file_id}}
    assert operation_case("/api/file/{file_id}/meta", "GET", **file).call_and_validate(**checked)
    download = operation_case("/api/file/{file_id}", "GET", **file).call_and_validate(**checked)
    etag = download.headers["etag"][0]
    for headers, status in [
        ({"Range": "bytes=0-7"}, 206),
        ({"If-None-Match": etag}, 304),
        ({"Range": f"bytes={len(download.content)}-"}, 416),
    ]:
        case = operation_case("/api/file/{file_id}", "GET", **file, headers=headers)
        assert case.call_and_validate(**checked).status_code == status


async def test_the_served_document_is_the_one_tested(client: httpx.AsyncClient) -> None:
    served = await client.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == DOCUMENT


def test_errors_are_documented_as_they_are_sent() -> None:
    """`{"detail": "<string>"}` for every error; FastAPI's default 422 body is nowhere."""
    assert "HTTPValidationError" not in str(DOCUMENT)
    error = DOCUMENT["components"]["schemas"]["ErrorResponse"]
    assert error["required"] == ["detail"]
    assert error["properties"]["detail"]["type"] == "string"
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and path not in ("/readyz",):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), (method, path, status)
            if "requestBody" in operation or any(
                p["in"] == "query" for p in operation.get("parameters", [])
            ):
                assert "422" in operation["responses"], (method, path)


def test_ids_carry_the_patterns_the_server_enforces() -> None:
    for path, item in DOCUMENT["paths"].items():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    prefix = {"thread_id": "thread_", "file_id": "file-"}[parameter["name"]]
                    pattern = parameter["schema"]["pattern"]
                    assert pattern == f"^{prefix}[A-Za-z0-9]{{1,64}}$", path
                    assert "400" in operation["responses"], path


def test_annotations_and_files_are_typed() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    annotation = schemas["FilePathAnnotationOut"]["properties"]
    assert annotation["type"]["const"] == "file_path"
    assert {"file_id", "text"} <= set(annotation)
    assert schemas["MessageFileOut"]["properties"]["type"]["const"] == "image_file"
    for model in ("ChatResponse", "MessageOut"):
        items = schemas[model]["properties"]["annotations"]["items"]
        assert items == {"$ref": "#/components/schemas/FilePathAnnotationOut"}, model
    files = schemas["ChatResponse"]["properties"]["files"]["items"]
    assert files == {"$ref": "#/components/schemas/MessageFileOut"}


def body_examples(path: str) -> dict[str, Any]:
    content = DOCUMENT["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    examples: dict[str, Any] = content["examples"]
    return examples


@pytest.mark.parametrize("path", ["/api/chat", "/api/analyze", "/api/thread/{thread_id}/messages"])
async def test_request_examples_work_as_they_are(client: httpx.AsyncClient, path: str) -> None:
    """Each example answers 200 in the default (no model) mode, but those whose description
    says they hold a placeholder id, which answer 404."""
    thread_id = (await client.post("/api/thread/create")).json()["thread_id"]
    for name, example in body_examples(path).items():
        response = await client.post(path.replace("{thread_id}", thread_id), json=example["value"])
        placeholder = "placeholder" in example.get("description", "")
        assert response.status_code == (404 if placeholder else 200), (name, response.text)


async def test_the_chat_example_runs_its_code(client: httpx.AsyncClient) -> None:
    example = body_examples("/api/chat")["python"]["value"]
    answer = await client.post("/api/chat", json=example)
    assert answer.status_code == 200, answer.text
    assert "45" in answer.json()["message"]
