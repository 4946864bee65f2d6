from collections.abc import AsyncIterator

import pytest

from eventkit.bus import CommandBus, EventBus
from eventkit.bus_memory import InMemoryCommandBus, InMemoryEventBus
from eventkit.testing.bus_contract import BusContract


class TestInMemoryBus(BusContract):
    @pytest.fixture
    async def bus(self) -> AsyncIterator[EventBus]:
        bus = InMemoryEventBus(delivery_limit=3)
        yield bus
        await bus.close()

    @pytest.fixture
    def commands(self) -> CommandBus:
        return InMemoryCommandBus()
