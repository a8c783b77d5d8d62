"""The one exception root of :mod:`seasight.logistics`: every refusal names the field at fault
and carries the HTTP status it maps to (400 bad input, 403 outside one's duty, 404 unknown,
409 conflict with the stored state). Nothing is written when one is raised."""

from __future__ import annotations


class LogisticsError(ValueError):
    """A request the logistics stage refuses: ``field`` names what is wrong, ``status`` is the
    HTTP status (the CLI exits 2 with ``str(error)`` on one line)."""

    status = 400
    code = "invalid_parameter"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DutyError(LogisticsError):
    """The person (or organisation) may not take this step: separation of duties, roles, or
    not a party."""

    status = 403
    code = "forbidden"


class NotFoundError(LogisticsError):
    """No such agreement or order (or not visible to the caller: the same answer)."""

    status = 404
    code = "not_found"


class ConflictError(LogisticsError):
    """The step does not fit the stored state (wrong order state, an idempotency key reused
    with another request, a ceiling that would be passed)."""

    status = 409
    code = "conflict"


__all__ = ["ConflictError", "DutyError", "LogisticsError", "NotFoundError"]
