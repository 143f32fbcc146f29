"""The one exception hierarchy of loopml.

Every error a user can cause or meet is a subclass of :class:`LoopmlError`. Each class
knows the HTTP status the server answers with and the exit code the CLI ends with, so
the mapping lives here once instead of in every handler.

Messages name the user's object and, through ``hint``, the fix::

    raise NotFound("run 'ab12' not found", hint="list runs with: loopml runs ls")
"""

from __future__ import annotations

from typing import Any, ClassVar


class LoopmlError(Exception):
    """Base of every loopml error; carries its HTTP status and CLI exit code."""

    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1
    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def to_dict(self) -> dict[str, Any]:
        """The one JSON error shape: ``{"error": {"code", "message", "hint", "details"}}``."""
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "hint": self.hint,
                "details": self.details,
            }
        }


class InvalidInput(LoopmlError):
    """The caller passed something malformed: a bad key, value, path or filter."""

    http_status = 400
    exit_code = 2
    code = "invalid_input"


class FilterSyntaxError(InvalidInput):
    """A search filter or order-by clause did not parse; ``column`` is 1-based."""

    code = "invalid_filter"

    def __init__(self, message: str, *, text: str, column: int, hint: str | None = None) -> None:
        super().__init__(
            f"{message} at column {column}: {_point_at(text, column)}",
            hint=hint,
            column=column,
            text=text,
        )
        self.column = column


class ValidationFailed(InvalidInput):
    """Data broke its schema; ``details["report"]`` holds every anomaly found."""

    code = "validation_failed"


class PayloadTooLarge(InvalidInput):
    """A request body was larger than the server's configured limit."""

    http_status = 413
    code = "payload_too_large"


class UnsupportedMediaType(InvalidInput):
    """A request body came with a content type the endpoint does not read."""

    http_status = 415
    code = "unsupported_media_type"


class Unauthorized(LoopmlError):
    """The server needs a valid token: none was sent, or it is unknown, revoked or expired."""

    http_status = 401
    exit_code = 10
    code = "unauthorized"


class Forbidden(LoopmlError):
    """The token is valid but its role may not do this."""

    http_status = 403
    exit_code = 10
    code = "forbidden"


class NotSupportedRemotely(InvalidInput):
    """The operation cannot run against a team server (yet); it needs a local store."""

    http_status = 501
    code = "not_supported_remotely"


class NotFound(LoopmlError):
    """The named object does not exist."""

    http_status = 404
    exit_code = 3
    code = "not_found"


class ProjectNotFound(NotFound):
    """No loopml store was found from the working directory upwards."""

    code = "project_not_found"


class AlreadyExists(LoopmlError):
    """An object with that name exists already."""

    http_status = 409
    exit_code = 4
    code = "already_exists"


class Conflict(LoopmlError):
    """The request contradicts the stored state (a param re-logged with a new value...)."""

    http_status = 409
    exit_code = 4
    code = "conflict"


class StoreError(LoopmlError):
    """The metadata or artifact store cannot be used right now."""

    http_status = 503
    exit_code = 5
    code = "store_unavailable"


class StoreReadOnly(StoreError):
    """The store lives where this process may not write."""

    code = "store_read_only"


class StoreBusy(StoreError):
    """Another process held the store's write lock for longer than the busy timeout."""

    code = "store_busy"


class SchemaTooNew(StoreError):
    """The store was migrated by a newer loopml than this one."""

    code = "schema_too_new"


class NotReady(StoreError):
    """A server cannot answer yet: its model is still loading, or failed to load."""

    code = "not_ready"


class PredictionFailed(LoopmlError):
    """The model raised on input that passed its signature (an unseen category...)."""

    http_status = 422
    exit_code = 9
    code = "prediction_failed"


class StepFailed(LoopmlError):
    """A pipeline step failed after its retries, or timed out; ``details`` name it and its run."""

    http_status = 422
    exit_code = 7
    code = "step_failed"


class GateFailed(LoopmlError):
    """A promotion was refused because a gate failed; ``details["report"]`` holds each gate."""

    http_status = 422
    exit_code = 8
    code = "gate_failed"


class ServerUnreachable(StoreError):
    """The team server in ``LOOPML_SERVER`` did not answer."""

    code = "server_unreachable"


class IntegrityFailure(LoopmlError):
    """Stored content does not match its hash, or the audit chain is broken."""

    http_status = 500
    exit_code = 6
    code = "integrity_failure"


def _point_at(text: str, column: int, width: int = 24) -> str:
    """Quote the filter around ``column`` with a caret, on one line, for the CLI."""
    start = max(0, column - 1 - width)
    end = min(len(text), column - 1 + width)
    head = ("…" if start else "") + text[start : column - 1]
    tail = text[column - 1 : end] + ("…" if end < len(text) else "")
    return f"'{head}⟶{tail}'"
