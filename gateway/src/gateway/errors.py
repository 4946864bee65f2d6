"""Gateway errors and their one mapping to HTTP: every error answers `{"detail": "..."}`."""

from fastapi import FastAPI

from eventkit.http_errors import install_error_handlers as install_shared_handlers


class GatewayError(Exception):
    """Base class; `status_code` is the HTTP status it maps to."""

    status_code = 500

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(GatewayError):
    """The request is malformed."""

    status_code = 400


class NotFound(GatewayError):
    """The named resource does not exist."""

    status_code = 404


class Conflict(GatewayError):
    """The request clashes with the current state."""

    status_code = 409


class PayloadTooLarge(GatewayError):
    """The request body is over the configured limit."""

    status_code = 413


class Unprocessable(GatewayError):
    """The request is well-formed but lacks what the route needs."""

    status_code = 422


class UpstreamUnavailable(GatewayError):
    """A service the request needs is not reachable."""

    status_code = 503


class UpstreamTimeout(GatewayError):
    """A service the request needs did not answer in time."""

    status_code = 504


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception to a JSON `{"detail": ...}` response."""
    install_shared_handlers(app, GatewayError)
