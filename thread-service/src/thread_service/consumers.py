"""What thread-service listens to on the bus."""

from contracts.routing import THREAD_COMMAND_KEYS, THREAD_COMMANDS_QUEUE
from eventkit.bus import CommandBus
from thread_service.service import Threads


async def serve_thread_commands(commands: CommandBus, threads: Threads, *, prefetch: int) -> None:
    """Route every thread command to `threads.handle`."""
    await commands.serve(
        THREAD_COMMANDS_QUEUE, THREAD_COMMAND_KEYS, threads.handle, prefetch=prefetch
    )
