"""Rendering query results for the terminal: table, CSV or JSON."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import json
import math
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.table import Table as RichTable

FORMATS = ("table", "csv", "json")


def jsonable(value: Any) -> Any:
    """A plain JSON value for one Arrow cell (maps become objects, times ISO 8601)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        # Arrow map cells arrive as lists of (key, value) pairs.
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            return {str(k): jsonable(v) for k, v in value}
        return [jsonable(item) for item in value]
    if isinstance(value, tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """Row objects with JSON-ready values."""
    return [{k: jsonable(v) for k, v in row.items()} for row in table.to_pylist()]


def _cell(value: Any) -> str:
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def to_json(table: pa.Table) -> str:
    return json.dumps(rows(table), ensure_ascii=False)


def to_csv(table: pa.Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.column_names)
    for row in table.to_pylist():
        writer.writerow([_cell(value) for value in row.values()])
    return out.getvalue()


def to_text_table(
    table: pa.Table, title: str | None = None, width: int = 160, count: bool = True
) -> str:
    grid = RichTable(title=title, show_lines=False)
    for name in table.column_names:
        grid.add_column(name, overflow="fold")
    for row in table.to_pylist():
        grid.add_row(*[_cell(value) for value in row.values()])
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(grid)
    text = console.file.getvalue()
    if count:
        text += f"({table.num_rows} row{'s' if table.num_rows != 1 else ''})\n"
    return text


def render(table: pa.Table, fmt: str) -> str:
    if fmt == "json":
        return to_json(table) + "\n"
    if fmt == "csv":
        return to_csv(table)
    return to_text_table(table)
