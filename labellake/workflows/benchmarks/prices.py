"""Hourly prices of the devices benchmarks run on, from the table in prices.json."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from labellake.errors import LabellakeError


@cache
def table() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("prices.json").read_text())


def price_per_hour(device: str | None, given: float | None = None) -> float | None:
    """The price given on the command line, else the table's for ``device``, else None
    (an unknown price makes the cost NULL, never 0)."""
    if given is not None:
        if given < 0:
            raise LabellakeError(f"--price-per-hour {given}: a price cannot be negative")
        return given
    if device is None:
        return None
    return table()["per_hour"].get(device)
