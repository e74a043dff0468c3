"""JSON from outside (request bodies, manifests, configs), read without surprises.

Malformed JSON names the line and column, JSON nested past Python's recursion
limit is a user error rather than a crash, and neither echoes the text.
"""

from __future__ import annotations

import json
from typing import Any

from labellake.errors import LabellakeError


def loads(text: str | bytes, where: str) -> Any:
    """The parsed value; LabellakeError naming ``where`` (a field, or file and line)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabellakeError(
            f"{where}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise LabellakeError(f"{where}: JSON nested too deeply; flatten the document") from None
    except UnicodeDecodeError as exc:
        raise LabellakeError(
            f"{where}: not UTF-8 text (byte {exc.start} cannot be decoded); send UTF-8 JSON"
        ) from None
