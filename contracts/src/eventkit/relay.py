"""The outbox relay: publishes committed events from the store to the bus, then checkpoints.

The events table is the outbox. An event is published only after it committed, and the
checkpoint moves only after the broker confirmed, so a crash anywhere means a re-publish
(consumers are idempotent), never a loss.
"""

import asyncio
import contextlib
import logging

from eventkit.bus import EventBus
from eventkit.envelopes import to_envelope
from eventkit.ops.metrics import RELAY_LAG, RELAY_PUBLISHED
from eventkit.store import CheckpointStore, EventStore

logger = logging.getLogger(__name__)

DEFAULT_RELAY_NAME = "relay"


class Relay:
    """Tails the store by global position and publishes each event once confirmed."""

    def __init__(
        self,
        store: EventStore,
        bus: EventBus,
        checkpoints: CheckpointStore,
        *,
        name: str = DEFAULT_RELAY_NAME,
        batch_size: int = 500,
    ) -> None:
        self._store = store
        self._bus = bus
        self._checkpoints = checkpoints
        self._name = name
        self._batch_size = batch_size
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask the relay to look for new events now rather than at its next poll."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish everything committed since the checkpoint; return how many were published."""
        position = await self._checkpoints.load(self._name)
        published = 0
        while True:
            batch = await self._store.read_all(after_position=position, limit=self._batch_size)
            if not batch:
                return published
            await self._bus.publish([to_envelope(event) for event in batch])
            position = batch[-1].global_position
            await self._checkpoints.save(self._name, position)
            published += len(batch)
            RELAY_PUBLISHED.inc(len(batch))

    async def lag(self) -> int:
        """Events committed but not yet published (store head minus checkpoint)."""
        behind = await self._store.head_position() - await self._checkpoints.load(self._name)
        RELAY_LAG.set(behind)
        return behind

    async def run(self, *, poll_interval: float = 0.1, max_backoff: float = 5.0) -> None:
        """Publish forever: on each wake-up or poll; back off while the bus or store fails."""
        backoff = poll_interval
        while True:
            woken = self._wake.is_set()
            self._wake.clear()
            try:
                if not woken:  # a quiet moment: measure the lag (not on the hot path)
                    await self.lag()
                await self.publish_pending()
                backoff = poll_interval
            except Exception:
                logger.exception("relay %s failed; retrying in %.1f s", self._name, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_backoff)
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_interval):
                    await self._wake.wait()
