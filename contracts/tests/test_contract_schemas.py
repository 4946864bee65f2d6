"""Guards on the message contracts: a breaking change to a schema must fail here first.

After an intended, compatible change, refresh the snapshots with
`CIE_UPDATE_SCHEMAS=1 make test` and commit them with the change.
"""

import ast
import json
import os
from pathlib import Path

import pytest
from pydantic import BaseModel

from contracts.envelope import Envelope
from contracts.registry import COMMANDS, EVENTS
from contracts.replies import CommandReply

SNAPSHOTS = Path(__file__).parent / "schemas"
CONTRACTS_SOURCE = Path(__file__).parents[1] / "src" / "contracts"
MODELS: dict[str, type[BaseModel]] = {
    "Envelope": Envelope,
    "CommandReply": CommandReply,
    **{f"command.{name}": model for name, model in COMMANDS.items()},
    **{f"event.{name}": model for name, model in EVENTS.items()},
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_schema_matches_its_snapshot(name: str) -> None:
    schema = MODELS[name].model_json_schema()
    snapshot = SNAPSHOTS / f"{name}.json"
    if os.environ.get("CIE_UPDATE_SCHEMAS") == "1":
        snapshot.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
    assert snapshot.exists(), f"no snapshot for {name}: run with CIE_UPDATE_SCHEMAS=1"
    assert schema == json.loads(snapshot.read_text()), (
        f"the schema of {name} changed; if that is intended and compatible, refresh the "
        "snapshot (CIE_UPDATE_SCHEMAS=1); otherwise add a new message type"
    )


def test_every_snapshot_still_has_a_contract() -> None:
    orphans = {path.stem for path in SNAPSHOTS.glob("*.json")} - set(MODELS)
    assert not orphans, f"contracts removed (a breaking change): {sorted(orphans)}"


def test_message_type_names_match_their_registry_keys() -> None:
    for name, model in {**COMMANDS, **EVENTS}.items():
        assert model.model_fields["type"].default == name


def test_contracts_import_no_infrastructure() -> None:
    forbidden = {"eventkit", "sqlalchemy", "aio_pika", "aiormq", "asyncpg", "fastapi"}
    for source in CONTRACTS_SOURCE.rglob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{source.name} imports {name}"
