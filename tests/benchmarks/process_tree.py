"""The processes below a pid, read from /proc (benchmarks watch what a service started)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path


def descendants(pid: int) -> Iterator[int]:
    """Every live descendant of `pid`, parents before their children; processes that end
    meanwhile are skipped."""
    seen: set[int] = set()
    parents = [pid]
    while parents:
        parent = parents.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:  # gone meanwhile
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in seen:
                    seen.add(child)
                    parents.append(child)
                    yield child
