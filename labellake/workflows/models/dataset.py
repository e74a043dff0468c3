"""Training data for a model: a lake SQL query or a CSV file, and a target column.

The default dataset is the labeling-effort one (sql/models/task_effort.sql): one
row per task with its frames, objects, shape type, modality, level, team and
worker, and the seconds the worker spent. Every other column of a dataset is a
feature: numbers as numeric features, everything else as categories.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from labellake import sql
from labellake.errors import LabellakeError
from labellake.lake import Lake
from labellake.workflows.models import estimators

EFFORT_QUERY = "models/task_effort"
EFFORT_TARGET = "seconds"
MIN_ROWS = 10  # fewer cannot be split into training and held-out rows


@dataclass(frozen=True)
class Dataset:
    """Rows of features and a numeric target, with where they came from."""

    frame: pd.DataFrame
    target: str
    numeric: list[str]
    categorical: list[str]
    source: str

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def x(self) -> pd.DataFrame:
        return self.frame[self.features]

    @property
    def y(self) -> pd.Series:
        return self.frame[self.target].astype(float)

    def profile(self) -> dict[str, Any]:
        """Per feature: its kind, and the range (numbers) or the values (categories)."""
        return estimators.profile(self.frame, self.numeric, self.categorical)


def from_arrow(
    table: pa.Table, target: str, source: str, features: list[str] | None = None
) -> Dataset:
    """Check a table and split it into features and target; LabellakeError names what
    is wrong (an unknown column, no rows, a target that is not a number)."""
    columns = table.column_names
    if target not in columns:
        raise LabellakeError(
            f"target column '{target}' is not in the dataset from {source}; its columns are "
            f"{', '.join(columns)}"
        )
    unknown = [name for name in features or [] if name not in columns]
    if unknown:
        raise LabellakeError(
            f"feature column(s) {', '.join(unknown)} not in the dataset from {source}; its "
            f"columns are {', '.join(columns)}"
        )
    if table.num_rows == 0:
        raise LabellakeError(f"the dataset from {source} has no rows; nothing to train on")
    kind = table.schema.field(target).type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)):
        raise LabellakeError(
            f"target column '{target}' of {source} holds {kind}, not numbers; a regression "
            "target must be numeric"
        )
    frame = table.to_pandas()
    frame = frame[frame[target].notna()].reset_index(drop=True)
    if len(frame) < MIN_ROWS:
        raise LabellakeError(
            f"the dataset from {source} has {len(frame)} rows with a '{target}' value; at "
            f"least {MIN_ROWS} are needed (run more batches, or give more data)"
        )
    chosen = features or [name for name in columns if name != target]
    if not chosen:
        raise LabellakeError(f"the dataset from {source} has no column besides '{target}'")
    numeric, categorical = [], []
    for name in chosen:
        field = table.schema.field(name).type
        if pa.types.is_integer(field) or pa.types.is_floating(field) or pa.types.is_decimal(field):
            numeric.append(name)
            frame[name] = frame[name].astype(float)
        else:
            categorical.append(name)
            frame[name] = frame[name].astype(str).fillna("")
    return Dataset(frame, target, numeric, categorical, source)


def from_sql(
    lake: Lake, query: str | None, target: str | None, features: list[str] | None = None
) -> Dataset:
    """The rows of a read-only lake query (the effort dataset when none is given)."""
    if query is None:
        table = lake.scan(sql.load(EFFORT_QUERY))
        return from_arrow(table, target or EFFORT_TARGET, "the labeling-effort query", features)
    if target is None:
        raise LabellakeError("target: name the column to predict (e.g. --target seconds)")
    table = lake.query_user(query)
    return from_arrow(table, target, "the SQL query", features)


def from_csv(
    data: bytes, target: str | None, features: list[str] | None = None, name: str = "CSV"
) -> Dataset:
    """The rows of a CSV file's bytes; a parse error says where, never what the file holds."""
    if target is None:
        raise LabellakeError("target: name the column to predict (e.g. --target seconds)")
    try:
        table = pacsv.read_csv(io.BytesIO(data))
    except pa.ArrowInvalid as exc:
        raise LabellakeError(
            f"{name} is not a CSV file that parses ({_csv_problem(str(exc))}); give a header "
            "row and the same number of comma-separated columns on every line"
        ) from None
    return from_arrow(table, target, name, features)


def _csv_problem(message: str) -> str:
    """The shape of a CSV parse error (pyarrow's message quotes the offending row: not that)."""
    found = re.search(r"Expected (\d+) columns?, got (\d+)", message)
    if found:
        return f"a line has {found[2]} column(s) where the header has {found[1]}"
    return "unreadable CSV"
