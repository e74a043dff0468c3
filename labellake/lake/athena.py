"""Queries through Amazon Athena (awswrangler), over the tables registered in Glue.

The lake's SQL is written in the common subset of DuckDB and Athena (Trino)
SQL; a query is transpiled with sqlglot, and the lake's views it reads are
inlined as common table expressions (dependencies first), so nothing has to be
created in Athena before the first query.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from labellake.errors import LabellakeError


def _referenced(expression: exp.Expression) -> set[str]:
    return {table.name.lower() for table in expression.find_all(exp.Table)}


def athena_sql(sql: str, views: dict[str, str]) -> str:
    """``sql`` (DuckDB dialect) as Athena SQL, with the views it reads inlined."""
    try:
        expression = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise LabellakeError(f"query failed: cannot parse the query ({exc})") from exc
    parsed = {name: sqlglot.parse_one(text, read="duckdb") for name, text in views.items()}
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order or name not in parsed:
            return
        if name in path:
            raise LabellakeError(f"view {name} reads itself through {' -> '.join(path)}")
        for dependency in sorted(_referenced(parsed[name])):
            visit(dependency, (*path, name))
        order.append(name)

    own = {cte.alias.lower() for cte in expression.find_all(exp.CTE)}
    for name in sorted(_referenced(expression) - own):
        visit(name, ())
    if order:
        ctes = [
            exp.CTE(this=parsed[name].copy(), alias=exp.TableAlias(this=exp.to_identifier(name)))
            for name in order
        ]
        key = "with_" if "with_" in type(expression).arg_types else "with"
        existing = expression.args.get(key)
        if existing is not None:
            existing.set("expressions", ctes + list(existing.expressions))
        else:
            expression.set(key, exp.With(expressions=ctes))
    return expression.sql(dialect="athena")


def literal(value: Any) -> str:
    """A query parameter as the SQL literal Athena's ExecutionParameters take."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
        return f"TIMESTAMP '{moment.isoformat(sep=' ', timespec='milliseconds')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


class AthenaEngine:
    """Runs the lake's queries in one Athena workgroup over one Glue database."""

    def __init__(
        self,
        database: str,
        workgroup: str,
        views: dict[str, str],
        region: str,
        endpoint_url: str | None = None,
        session: Any = None,
    ) -> None:
        import boto3

        self.database = database
        self.workgroup = workgroup
        self.views = {name.lower(): text for name, text in views.items()}
        self.session = session or boto3.Session(region_name=region)
        self.endpoint_url = endpoint_url

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        from botocore.exceptions import BotoCoreError, ClientError

        from labellake.lake.glue import wrangler

        wr = wrangler(self.endpoint_url)
        text = athena_sql(sql, self.views)
        try:
            frame = wr.athena.read_sql_query(
                text,
                database=self.database,
                workgroup=self.workgroup,
                ctas_approach=False,
                unload_approach=False,
                params=[literal(v) for v in params] if params else None,
                paramstyle="qmark",
                boto3_session=self.session,
            )
        except (ClientError, BotoCoreError, wr.exceptions.QueryFailed) as exc:
            raise LabellakeError(
                f"query failed in Athena (workgroup {self.workgroup}): {exc}"
            ) from exc
        return pa.Table.from_pandas(frame, preserve_index=False)
