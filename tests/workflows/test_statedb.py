"""The SQLite state db (versions, migrations, transactions, processes at once) and what
only the SQLite batch store does; what every batch store does is in
tests/workflows/labeling/test_batch_store_contract.py."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from labellake.errors import LabellakeError
from labellake.workflows.labeling.sqlite_store import LABELING, SqliteBatchStore, record_event
from labellake.workflows.labeling.store import Event
from labellake.workflows.statedb import LEASES, PER_SUBSYSTEM, Schema, StateDb


def test_a_new_store_carries_the_schema_version(tmp_path: Path) -> None:
    store = SqliteBatchStore(tmp_path / "state.db")
    assert store.db.schema_version == PER_SUBSYSTEM
    assert store.db.versions() == {"labeling": LABELING.version, "leases": LEASES.version}
    with sqlite3.connect(tmp_path / "state.db") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = SqliteBatchStore(tmp_path / "state.db")
    assert again.db.versions() == {"labeling": LABELING.version, "leases": LEASES.version}


def test_an_older_store_migrates_forward(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as con:
        con.executescript("CREATE TABLE leftover (x); PRAGMA user_version = 0;")
    SqliteBatchStore(path)
    extra = Schema("extra", ("CREATE TABLE extra (y)", "ALTER TABLE extra ADD COLUMN z"))
    db = StateDb(path)
    db.migrate(Schema("extra", extra.migrations[:1]))
    db = StateDb(path)  # a newer labellake: one more migration
    db.migrate(extra)
    assert db.versions()["extra"] == 2
    with sqlite3.connect(path) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        columns = [r[1] for r in con.execute("PRAGMA table_info(extra)")]
    assert {"batches", "jobs", "extra", "leftover"} <= tables
    assert columns == ["y", "z"]


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as con:
        con.execute(f"PRAGMA user_version = {PER_SUBSYSTEM + 5}")
    with pytest.raises(LabellakeError, match="newer than this labellake"):
        SqliteBatchStore(path)


def test_newer_tables_of_one_subsystem_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteBatchStore(path)
    with sqlite3.connect(path) as con:
        con.execute("UPDATE schema_versions SET version = 99 WHERE subsystem = 'labeling'")
    with pytest.raises(LabellakeError, match="version 99 of its labeling tables, newer than"):
        SqliteBatchStore(path)


def test_a_file_that_is_not_sqlite_is_named(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is no database" * 100)
    with pytest.raises(LabellakeError, match=f"state store {path} is not a SQLite database"):
        SqliteBatchStore(path)


def test_a_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    store = SqliteBatchStore(tmp_path / "state.db")
    with pytest.raises(RuntimeError), store.db.transaction() as con:
        record_event(con, Event("Something"))
        raise RuntimeError("midway")
    assert store.events() == []


WRITER = """
import sys
from labellake.workflows.labeling.sqlite_store import SqliteBatchStore, record_event
from labellake.workflows.labeling.store import Event
store = SqliteBatchStore(sys.argv[1])
for i in range(200):
    with store.db.transaction() as con:
        record_event(con, Event("Tick", actor=sys.argv[2]))
"""


def test_processes_write_at_the_same_time(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteBatchStore(path)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{i}"]) for i in range(3)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    assert len(SqliteBatchStore(path).events(kind="Tick")) == 600
