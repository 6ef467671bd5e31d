"""The admin API's errors: every refusal is a 4xx with a code, a reason and the field at fault."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError

STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    402: "payment_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_failed",
    429: "rate_limited",
    502: "bad_gateway",
    503: "unavailable",
}


class ApiError(Exception):
    """A refusal the caller can act on; nothing was changed."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        details: list[dict[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.details = details or []

    @property
    def code(self) -> str:
        """Return the error code of the status (``validation_failed``, ``forbidden``...)."""
        return STATUS_CODES.get(self.status, "error")

    def body(self) -> dict[str, Any]:
        """Return the JSON body the API answers with."""
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "field": self.field,
                "details": self.details,
            }
        }


def not_found(what: str) -> ApiError:
    """Return the 404 for a resource the caller's tenant does not have."""
    return ApiError(404, f"{what} not found")


def conflict(message: str, field: str | None = None) -> ApiError:
    """Return a 409: the request is valid but the resource's state refuses it."""
    return ApiError(409, message, field)


def invalid(field: str, reason: str) -> ApiError:
    """Return a 422 naming one field."""
    return ApiError(422, f"{field}: {reason}", field, [{"field": field, "reason": reason}])


def from_validation_error(error: ValidationError, prefix: str = "") -> ApiError:
    """Return the 422 for a pydantic error, naming every bad field (dotted path)."""
    details = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"] if part != "__root__")
        where = f"{prefix}.{where}" if prefix and where else (prefix or where)
        reason = str(problem["msg"]).removeprefix("Value error, ")
        details.append({"field": where or "body", "reason": reason})
    first = details[0]
    return ApiError(422, f"{first['field']}: {first['reason']}", first["field"], details)


T = TypeVar("T")


def contended(run: Callable[[], T], *, attempts: int = 8) -> T:
    """Run a Firestore transaction again while contention aborts it; 503 when it never settles.

    The client retries an aborted commit a few times, and not a read that the database aborted
    (the Firestore emulator's lock timeout under concurrent transactions): nothing was written
    then, so the whole transaction is run again after a short random pause.
    """
    from google.api_core.exceptions import Aborted

    for attempt in range(attempts):
        try:
            return run()
        except (Aborted, ValueError) as error:
            # The client gives up on aborted commits with a ValueError caused by the Aborted.
            if not isinstance(error, Aborted) and not isinstance(error.__cause__, Aborted):
                raise
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # noqa: S311 (jitter)
    raise ApiError(503, "the record is being changed by other requests; try again")
