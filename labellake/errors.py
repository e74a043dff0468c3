"""The one exception type for errors a user can cause.

The API maps it to a 4xx answer, the CLI to a one-line message and exit code 2,
the portal to ``st.error``. Anything else that escapes is a bug.
"""

from __future__ import annotations

from collections.abc import Mapping


class LabellakeError(Exception):
    """A problem the user can fix; the message names the field, file or line and the fix."""

    status_code = 400

    def __init__(self, message: str) -> None:
        # Keep the message on one line: it is printed as-is by the CLI.
        super().__init__(" ".join(str(message).split()))

    @property
    def message(self) -> str:
        return str(self)


class NotFoundError(LabellakeError):
    """An id, table or file that does not exist (HTTP 404)."""

    status_code = 404


class ConflictError(LabellakeError):
    """The request is valid but the thing is in the wrong state for it (HTTP 409)."""

    status_code = 409


class TooLargeError(LabellakeError):
    """A body or a file a request names is over its size cap (HTTP 413)."""

    status_code = 413


class DamagedLakeError(LabellakeError):
    """Lake files that cannot be read (HTTP 503): not the caller's fault, and no bug either.

    The lake cannot answer until an operator runs `labellake lake repair`, so the API says
    the service is unavailable rather than blaming the request (4xx) or hiding the cause
    behind an opaque 500. ``damaged`` maps each damaged file's key (relative to the lake)
    to why it cannot be read.
    """

    status_code = 503

    def __init__(self, message: str, damaged: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.damaged = dict(damaged or {})

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(sorted(self.damaged))


class BusyError(LabellakeError):
    """Too much of this work is running now; the caller may try again shortly (HTTP 429)."""

    status_code = 429
