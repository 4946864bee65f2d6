"""Text every event store can hold, whatever a payload carries.

The stores refuse what JSON in PostgreSQL cannot keep (NUL, lone surrogates, which are not
UTF-8), and payloads carry what users and their code produce: `print("a\\x00b")`, a binary
printed as text, a file name or message with a stray surrogate. Every contract payload passes
through `storable` on its way to a store (`envelopes.new_event`), so nothing a user can type
or print makes an event unstorable, and the path that records a failure cannot fail the same
way. NUL becomes U+2400 (SYMBOL FOR NULL, visible where it was) and a lone surrogate U+FFFD.
"""

from typing import Any

NUL_SHOWN_AS = "\u2400"
REPLACEMENT = "\ufffd"


def storable(value: Any) -> Any:
    """`value` (JSON data) with every string made storable; unchanged strings are kept as is."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(key)): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def storable_text(text: str) -> str:
    """`text` with NUL shown as U+2400 and lone surrogates replaced."""
    if "\x00" in text:
        text = text.replace("\x00", NUL_SHOWN_AS)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join(REPLACEMENT if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text
