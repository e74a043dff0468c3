"""The one exception type for errors a user can cause.

The API maps it to a 4xx answer, the CLI to a one-line message and exit code 2,
the portal to ``st.error``. Anything else that escapes is a bug.
"""

from __future__ import annotations


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
