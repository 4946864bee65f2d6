"""Fenced Python code blocks in a message."""

from __future__ import annotations

import re

# An opening fence of three or more backticks tagged python/py (any case), and the same fence
# closing it; the tag may carry attributes (```python title="x"), as some editors write.
_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,})[ \t]*(?:python3?|py)\b[^\n]*\n(?P<code>.*?)^[ \t]*(?P=fence)[ \t]*$",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)


def python_blocks(text: str) -> list[str]:
    """The code of each ```python / ```py block, in order."""
    return [match.group("code") for match in _FENCE.finditer(text)]
