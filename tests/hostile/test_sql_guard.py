"""User SQL reads the lake's tables and nothing else, whichever way it comes in.

No file is read (read_csv, read_parquet, read_text, glob, a path as a table), no setting
changes (SET, RESET, PRAGMA, and so the limits on user SQL hold), nothing is attached,
copied, installed or loaded, and one statement runs at a time. Each refusal is one
LabellakeError saying why: Lake.query_user raises it, `labellake sql` prints it on one
line and exits 2, and nothing is written.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from labellake.errors import LabellakeError
from labellake.lake import Lake, ObjectStore
from labellake.portal.cli.main import main

READS_FILES = "reading files is not allowed"
SETTINGS = "settings cannot be changed"

REFUSED = [
    # Files outside (or inside) the lake, by table function or by path.
    ("SELECT * FROM read_csv('/etc/passwd')", f"read_csv() is refused: {READS_FILES}"),
    ("SELECT * FROM read_csv_auto('/etc/passwd')", f"read_csv_auto() is refused: {READS_FILES}"),
    ("SELECT * FROM read_parquet('/etc/x.parquet')", f"read_parquet() is refused: {READS_FILES}"),
    ("SELECT * FROM read_text('/etc/passwd')", f"read_text() is refused: {READS_FILES}"),
    ("SELECT * FROM read_blob('/etc/passwd')", f"read_blob() is refused: {READS_FILES}"),
    ("SELECT * FROM read_json_auto('/etc/passwd')", f"read_json_auto() is refused: {READS_FILES}"),
    ("SELECT * FROM glob('/etc/*')", f"glob() is refused: {READS_FILES}"),
    ("SELECT * FROM parquet_metadata('/etc/x.parquet')", "parquet_metadata() is refused"),
    ("SELECT * FROM sqlite_scan('/tmp/x.db', 't')", "sqlite_scan() is refused"),
    ("SELECT * FROM '/etc/passwd'", f"unknown table '/etc/passwd' ({READS_FILES})"),
    ("FROM '/etc/passwd'", f"unknown table '/etc/passwd' ({READS_FILES})"),
    (
        "SELECT * FROM 'annotations/x.parquet'",
        f"unknown table 'annotations/x.parquet' ({READS_FILES})",
    ),
    # ...also where the read hides in a join, a subquery, a CTE or a DESCRIBE.
    ("SELECT * FROM annotations, read_csv('/etc/passwd')", "read_csv() is refused"),
    ("SELECT (SELECT count(*) FROM read_text('/etc/passwd')) AS n", "read_text() is refused"),
    (
        "WITH x AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM x",
        "read_text() is refused",
    ),
    ("DESCRIBE SELECT * FROM read_csv('/etc/passwd')", "read_csv() is refused"),
    ("SELECT * FROM query('SELECT 1')", "query() is refused"),
    ("SELECT * FROM duckdb_settings()", "duckdb_settings() is refused"),
    ("SELECT * FROM memory.main.annotations", "refer to lake tables by their plain name"),
    # Settings: the user-SQL limits and the file fence cannot be lifted.
    ("SET threads = 1", f"SET is refused: {SETTINGS}"),
    ("SET memory_limit = '100GB'", f"SET is refused: {SETTINGS}"),
    ("SET GLOBAL memory_limit = '100GB'", f"SET is refused: {SETTINGS}"),
    ("SET SESSION enable_external_access = true", f"SET is refused: {SETTINGS}"),
    ("RESET memory_limit", f"RESET is refused: {SETTINGS}"),
    ("PRAGMA memory_limit = '100GB'", f"PRAGMA is refused: {SETTINGS}"),
    ("PRAGMA enable_profiling", f"PRAGMA is refused: {SETTINGS}"),
    ("CALL pragma_version()", "CALL is refused"),
    # Attaching, copying, exporting, extensions.
    ("ATTACH '/tmp/x.db' AS x", "ATTACH is refused"),
    ("ATTACH ':memory:' AS m", "ATTACH is refused"),
    ("DETACH x", "DETACH is refused"),
    ("USE memory", "USE is refused"),
    ("COPY annotations TO 'out.csv'", "COPY is refused"),
    ("COPY (SELECT 1) TO 'out.csv'", "COPY is refused"),
    ("COPY annotations FROM '/etc/passwd'", "COPY is refused"),
    ("EXPORT DATABASE 'exported'", "EXPORT is refused"),
    ("IMPORT DATABASE 'exported'", "IMPORT is refused"),
    ("INSTALL httpfs", "INSTALL is refused"),
    ("FORCE INSTALL httpfs", "INSTALL is refused"),
    ("LOAD httpfs", "LOAD is refused"),
    ("LOAD '/tmp/evil.duckdb_extension'", "LOAD is refused"),
    # Writes.
    ("CREATE TABLE t AS SELECT 1", "CREATE is refused"),
    ("INSERT INTO annotations (job_name) VALUES ('x')", "INSERT is refused"),
    ("DROP VIEW annotations", "DROP is refused"),
    ("CHECKPOINT", "CHECKPOINT is refused"),
    # More than one statement, even when the first is harmless.
    ("SELECT 1; SELECT 2", "holds 2 statements; run one statement at a time"),
    ("SELECT count(*) FROM annotations; SET threads = 1", "holds 2 statements"),
    ("SELECT count(*) FROM annotations; COPY annotations TO 'out.csv'", "holds 2 statements"),
]
IDS = [re.sub(r"\W+", "-", query)[:40].strip("-") for query, _ in REFUSED]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home whose lake holds one annotation row."""
    home = tmp_path / "home"
    Lake.from_uri(str(home / "lake")).write(
        "annotations", "job-a", pa.table({"job_name": ["job-a"]})
    )
    return home


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("query", "reason"), REFUSED, ids=IDS)
def test_lake_query_user_refuses(home: Path, query: str, reason: str) -> None:
    lake = Lake(ObjectStore.from_uri(home / "lake"), sql_memory_limit="256MB")
    with pytest.raises(LabellakeError, match=re.escape(reason)):
        lake.query_user(query)
    # The user session's limits and fence are as they were.
    settings = lake.query_user(
        "SELECT current_setting('memory_limit') AS memory, "
        "current_setting('enable_external_access') AS files, "
        "current_setting('lock_configuration') AS locked, count(*) AS rows FROM annotations"
    ).to_pylist()
    with duckdb.connect() as plain:
        plain.execute("SET memory_limit = '256MB'")
        [(cap,)] = plain.execute("SELECT current_setting('memory_limit')").fetchall()
    assert settings == [{"memory": cap, "files": False, "locked": True, "rows": 1}]


@pytest.mark.parametrize(("query", "reason"), REFUSED, ids=IDS)
def test_labellake_sql_refuses_in_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], home: Path, isolated_env: Path, query: str, reason: str
) -> None:
    before = snapshot(home)
    with pytest.raises(SystemExit) as exited:
        main(["--home", str(home), "sql", query])
    out, err = capsys.readouterr()
    assert (exited.value.code, out) == (2, "")
    assert err.startswith("labellake: error: ") and err.count("\n") == 1 and reason in err
    assert snapshot(home) == before
    assert list(isolated_env.iterdir()) == []  # no out.csv, no exported/, no spill files
