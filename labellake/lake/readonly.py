"""The guard in front of user SQL (portal console, `labellake sql`).

User SQL may read the lake's tables and nothing else: one SELECT-like
statement, no writes, no ATTACH/COPY/INSTALL/LOAD/SET/PRAGMA, no table
functions that read files. The query engine adds a second fence (DuckDB with
external access off and its configuration locked), but this check is what
gives the user a clear reason.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterable, Iterator

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from labellake.errors import LabellakeError, NotFoundError

_READ_ONLY = "the SQL console is read-only"

# Statement kinds refused outright, with the reason shown to the user.
_REFUSED: tuple[tuple[type[exp.Expression], str], ...] = (
    (exp.Copy, f"COPY is refused: {_READ_ONLY}; use --format csv or json to export results"),
    (exp.Attach, "ATTACH is refused: only the lake's own tables can be queried"),
    (exp.Detach, "DETACH is refused: only the lake's own tables can be queried"),
    (exp.Install, "INSTALL is refused: extensions cannot be installed from the SQL console"),
    (exp.Set, "SET is refused: settings cannot be changed from the SQL console"),
    (exp.Pragma, "PRAGMA is refused: settings cannot be changed from the SQL console"),
    (exp.Use, "USE is refused: only the lake's own tables can be queried"),
    (exp.Insert, f"INSERT is refused: {_READ_ONLY}"),
    (exp.Update, f"UPDATE is refused: {_READ_ONLY}"),
    (exp.Delete, f"DELETE is refused: {_READ_ONLY}"),
    (exp.Merge, f"MERGE is refused: {_READ_ONLY}"),
    (exp.Create, f"CREATE is refused: {_READ_ONLY}"),
    (exp.Drop, f"DROP is refused: {_READ_ONLY}"),
    (exp.Alter, f"ALTER is refused: {_READ_ONLY}"),
    (exp.TruncateTable, f"TRUNCATE is refused: {_READ_ONLY}"),
)

# Keywords sqlglot keeps as a raw Command, with the reason shown to the user.
_REFUSED_COMMANDS = {
    "LOAD": "LOAD is refused: extensions cannot be loaded from the SQL console",
    "RESET": "RESET is refused: settings cannot be changed from the SQL console",
    "CALL": "CALL is refused: only queries over the lake's tables are allowed",
    "EXPORT": f"EXPORT is refused: {_READ_ONLY}",
    "IMPORT": f"IMPORT is refused: {_READ_ONLY}",
    "VACUUM": f"VACUUM is refused: {_READ_ONLY}",
    "CHECKPOINT": f"CHECKPOINT is refused: {_READ_ONLY}",
}

_ALLOWED_ROOTS = (exp.Query, exp.Describe, exp.Summarize)


def _keyword(kind: type[exp.Expression]) -> str:
    return {"TruncateTable": "TRUNCATE"}.get(kind.__name__, kind.__name__.upper())


# The same reasons by leading keyword, for statements sqlglot cannot parse.
_REFUSED_BY_KEYWORD = {_keyword(kind): reason for kind, reason in _REFUSED} | _REFUSED_COMMANDS


@contextlib.contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning for syntax it keeps as a raw command; the user sees our reason."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _parse(sql: str) -> list[exp.Expression]:
    with _quiet_sqlglot():
        return [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]


def _first_word(sql: str) -> str:
    words = sql.strip().split(None, 1)
    return words[0].upper().rstrip(";") if words else ""


def _syntax_error(sql: str, exc: Exception) -> str:
    """DuckDB's own description of a syntax error reads better than sqlglot's."""
    try:
        with duckdb.connect() as con:
            con.extract_statements(sql)
    except duckdb.Error as duck:
        message = str(duck).replace("Parser Error: ", "").split("LINE ", 1)[0]
        return " ".join(message.split())
    return str(exc).splitlines()[0]


def check_user_sql(sql: str, tables: Iterable[str]) -> str:
    """Return ``sql`` unchanged if it only reads ``tables``; LabellakeError saying why not.

    >>> check_user_sql("select count(*) from annotations", ["annotations"])
    'select count(*) from annotations'
    """
    known = {name.lower() for name in tables}
    if not sql or not sql.strip():
        raise LabellakeError("the query is empty; write a SELECT over the lake's tables")
    word = _first_word(sql)
    if word in _REFUSED_COMMANDS:
        raise LabellakeError(_REFUSED_COMMANDS[word])
    try:
        statements = _parse(sql)
    except (ParseError, TokenError) as exc:
        if word in _REFUSED_BY_KEYWORD:
            raise LabellakeError(_REFUSED_BY_KEYWORD[word]) from exc
        raise LabellakeError(f"malformed query: {_syntax_error(sql, exc)}") from exc
    if len(statements) != 1:
        raise LabellakeError(
            f"the query holds {len(statements)} statements; run one statement at a time"
        )
    statement = statements[0]
    for node in statement.walk():
        for kind, reason in _REFUSED:
            if isinstance(node, kind):
                raise LabellakeError(reason)
    if isinstance(statement, exp.Command):
        raise LabellakeError(
            _REFUSED_COMMANDS.get(
                str(statement.this).upper(),
                f"{str(statement.this).upper()} is refused: only SELECT queries are allowed",
            )
        )
    if not isinstance(statement, _ALLOWED_ROOTS):
        raise LabellakeError(f"only SELECT queries are allowed; '{word}' statements are refused")
    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    for table in statement.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            function = table.this.sql_name() if isinstance(table.this, exp.Func) else "?"
            if isinstance(table.this, exp.Anonymous):
                function = str(table.this.this)
            raise LabellakeError(
                f"table function {function.lower()}() is refused: reading files is not "
                "allowed; query the lake's tables by name"
            )
        if table.args.get("db") or table.args.get("catalog"):
            raise LabellakeError(
                f"'{table.sql(dialect='duckdb')}' is refused: refer to lake tables by their "
                "plain name"
            )
        name = table.name.lower()
        if name in ctes:
            continue
        if name not in known:
            hint = " (reading files is not allowed)" if "/" in name or "." in name else ""
            raise NotFoundError(
                f"unknown table '{table.name}'{hint}; known tables: {', '.join(sorted(known))}"
            )
    return sql


def referenced_tables(sql: str) -> set[str]:
    """Lower-cased names of the tables a (trusted) query reads, CTEs excluded."""
    return set(_referenced_tables(sql))


@functools.lru_cache(maxsize=256)
def _referenced_tables(sql: str) -> frozenset[str]:
    # Trusted queries are the same few texts again and again: parse each once.
    try:
        statements = _parse(sql)
    except (ParseError, TokenError):
        return frozenset()
    names: set[str] = set()
    for statement in statements:
        ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
        names |= {
            t.name.lower()
            for t in statement.find_all(exp.Table)
            if isinstance(t.this, exp.Identifier) and t.name.lower() not in ctes
        }
    return frozenset(names)
