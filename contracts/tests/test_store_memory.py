import pytest

from eventkit.store import CheckpointStore, EventStore
from eventkit.store_memory import InMemoryCheckpointStore, InMemoryEventStore
from eventkit.testing.store_contract import CheckpointStoreContract, EventStoreContract


class TestInMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def store(self) -> EventStore:
        return InMemoryEventStore()


class TestInMemoryCheckpointStore(CheckpointStoreContract):
    @pytest.fixture
    def checkpoints(self) -> CheckpointStore:
        return InMemoryCheckpointStore()
