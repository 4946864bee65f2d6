"""What every projection's replay shares: the report, the row diff, and the command line.

A service's replay module rebuilds its view from the store and calls `compare`; its
`main()` is `replay_main(view_name, run)`.
"""

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventkit.migrate import DEFAULT_DATABASE_URL

SHOWN_DIFFERENCES = 20


@dataclass(frozen=True)
class ReplayReport:
    """What a replay found: how many events and rows, and the rows that differ."""

    events: int
    rows: dict[str, int]
    differences: list[str] = field(default_factory=list)
    applied: bool = False

    @property
    def matches(self) -> bool:
        """Whether the live view equals the rebuilt one."""
        return not self.differences


def differences(kind: str, live: Mapping[str, object], rebuilt: Mapping[str, object]) -> list[str]:
    """Human-readable differences between two sets of rows keyed alike."""
    return [
        f"{kind} {key}: live {live.get(key)} != rebuilt {rebuilt.get(key)}"
        for key in sorted(live.keys() | rebuilt.keys())
        if live.get(key) != rebuilt.get(key)
    ]


def replay_main(
    view_name: str, run: Callable[[str, bool], Coroutine[Any, Any, ReplayReport]]
) -> None:
    """The replay command line: `--database-url`, `--apply`; exit 0 on a match (or applied)."""
    parser = argparse.ArgumentParser(
        description=f"Rebuild the {view_name} from the event store and compare it with the live one"
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("CIE_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--apply", action="store_true", help="replace the live view by the rebuild")
    args = parser.parse_args()
    report = asyncio.run(run(args.database_url, args.apply))
    sizes = ", ".join(f"{count} {kind}" for kind, count in report.rows.items())
    print(f"{view_name}: replayed {report.events} events into {sizes}")
    for line in report.differences[:SHOWN_DIFFERENCES]:
        print(f"  differs: {line}")
    if len(report.differences) > SHOWN_DIFFERENCES:
        print(f"  … and {len(report.differences) - SHOWN_DIFFERENCES} more")
    count = len(report.differences)
    if report.matches:
        print(f"{view_name}: matches the event store")
    elif report.applied:
        print(f"{view_name}: {count} differences; replaced by the rebuild")
    else:
        print(f"{view_name}: {count} differences (run with --apply to fix)")
    sys.exit(0 if report.matches or report.applied else 1)
