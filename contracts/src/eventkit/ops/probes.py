"""Readiness checks: each is a coroutine that returns a short status or raises."""

import asyncio
from collections.abc import Awaitable, Callable, Mapping

Check = Callable[[], Awaitable[str]]
"""Returns what it found (e.g. "ok", "2 warm sessions"); raises when the dependency fails."""

CHECK_TIMEOUT_S = 2.0


async def run_checks(checks: Mapping[str, Check]) -> tuple[bool, dict[str, str]]:
    """Run every check concurrently; ready only if all pass within the timeout."""

    async def one(check: Check) -> tuple[bool, str]:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                return True, await check()
        except TimeoutError:
            return False, f"no answer within {CHECK_TIMEOUT_S:g} s"
        except Exception as error:
            return False, f"{type(error).__name__}: {error}"[:300]

    names = list(checks)
    results = await asyncio.gather(*(one(checks[name]) for name in names))
    report = {name: detail for name, (_, detail) in zip(names, results, strict=True)}
    return all(ok for ok, _ in results), report
