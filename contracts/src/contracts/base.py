"""Base class for every command and event payload."""

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """A message payload. Frozen; unknown fields are ignored so older readers tolerate additions."""

    model_config = ConfigDict(frozen=True, extra="ignore")
