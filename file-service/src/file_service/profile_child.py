"""The process that profiles one spreadsheet or PDF: `python -m file_service.profile_child EXT
SIZE`, the file on standard input, the profile as one JSON line on standard output.

Parsers of hostile files can take gigabytes or minutes; here that costs this process, which
file-service starts with memory and CPU-time limits and kills at its deadline
(`profiles.profile_in_child`), never file-service itself.
"""

import json
import sys
from typing import Any

from file_service.profiles_office import PROFILERS
from file_service.profiles_tabular import MAX_CELL_CHARS

TOO_MUCH_MEMORY = "cannot profile this file: it needs more memory than a profile may use"


def cannot_profile(error: Exception) -> dict[str, str]:
    """The profile of a file whose profiling raised `error` (here or in file-service)."""
    text = str(error) or type(error).__name__
    text = text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"
    return {"error": f"cannot profile this file: {text}"}


def profile(extension: str, size: int) -> dict[str, Any]:
    """The profile of the file on standard input, or {"error": ...}; never raises."""
    try:
        return PROFILERS[extension](sys.stdin.buffer, size)
    except MemoryError:
        return {"error": TOO_MUCH_MEMORY}
    except Exception as error:
        return cannot_profile(error)


def main() -> None:
    """Profile, print, exit."""
    extension, size = sys.argv[1], int(sys.argv[2])
    sys.stdout.write(json.dumps(profile(extension, size), default=str) + "\n")


if __name__ == "__main__":
    main()
