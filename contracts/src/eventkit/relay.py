"""The outbox relay: publishes committed events from the store to the bus, then checkpoints.

The events table is the outbox. An event is published only after it committed, and the
checkpoint moves only after the broker confirmed, so a crash anywhere means a re-publish
(consumers are idempotent), never a loss.
"""

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Sequence

from contracts.routing import QueueSpec
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
        checkpoint_every_s: float = 0.0,
        queues: Sequence[QueueSpec] = (),
    ) -> None:
        """`checkpoint_every_s` > 0 saves the checkpoint at most that often (and when idle or
        stopping): fewer writes, at the price of republishing that much after a crash.
        `queues` are declared before the first publish, so what they are bound to waits there
        even before their consumer first starts (events nobody is bound to are dropped)."""
        self._store = store
        self._queues = list(queues)
        self._bus = bus
        self._checkpoints = checkpoints
        self._name = name
        self._batch_size = batch_size
        self._checkpoint_every_s = checkpoint_every_s
        self._wake = asyncio.Event()
        self._position: int | None = None  # published up to here (this relay holds the lead)
        self._saved: int | None = None
        self._saved_at = -math.inf  # the first save is due at once (monotonic may start at 0)

    def wake(self) -> None:
        """Ask the relay to look for new events now rather than at its next poll."""
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish everything committed since the checkpoint; return how many were published."""
        while self._queues:
            spec = self._queues[0]
            await self._bus.declare(spec.name, spec.binding_keys, single_active=spec.single_active)
            self._queues.pop(0)
        if self._position is None:
            self._position = self._saved = await self._checkpoints.load(self._name)
        published = 0
        while True:
            batch = await self._store.read_all(
                after_position=self._position, limit=self._batch_size
            )
            if not batch:
                return published
            await self._bus.publish([to_envelope(event) for event in batch])
            self._position = batch[-1].global_position
            published += len(batch)
            RELAY_PUBLISHED.inc(len(batch))
            if time.monotonic() - self._saved_at >= self._checkpoint_every_s:
                await self.save_checkpoint()

    async def save_checkpoint(self) -> None:
        """Save how far publishing got, if it moved since the last save."""
        if self._position is not None and self._position != self._saved:
            await self._checkpoints.save(self._name, self._position)
            self._saved, self._saved_at = self._position, time.monotonic()

    async def lag(self) -> int:
        """Events committed but not yet published (store head minus checkpoint)."""
        published = self._position
        if published is None:
            published = await self._checkpoints.load(self._name)
        behind = await self._store.head_position() - published
        RELAY_LAG.set(behind)
        return behind

    async def run(self, *, poll_interval: float = 0.1, max_backoff: float = 5.0) -> None:
        """Publish forever: on each wake-up or poll; back off while the bus or store fails."""
        try:
            await self._run(poll_interval, max_backoff)
        finally:  # stopping: keep what was published, so a successor republishes little
            with contextlib.suppress(Exception):
                await self.save_checkpoint()

    async def _run(self, poll_interval: float, max_backoff: float) -> None:
        backoff = poll_interval
        while True:
            woken = self._wake.is_set()
            self._wake.clear()
            try:
                if not woken:  # a quiet moment: save the checkpoint, measure the lag
                    await self.save_checkpoint()
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
