from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from labellake.errors import LabellakeError
from labellake.workflows.labeling import state
from labellake.workflows.labeling.state import SCHEMA_VERSION, StateStore


def test_a_new_store_carries_the_schema_version(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    assert store.schema_version == SCHEMA_VERSION
    with sqlite3.connect(tmp_path / "state.db") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert StateStore(tmp_path / "state.db").schema_version == SCHEMA_VERSION


def test_an_older_store_migrates_forward(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as con:
        con.executescript("CREATE TABLE leftover (x); PRAGMA user_version = 0;")
    monkeypatch.setattr(state, "MIGRATIONS", (*state.MIGRATIONS, "CREATE TABLE extra (y)"))
    monkeypatch.setattr(state, "SCHEMA_VERSION", len(state.MIGRATIONS))
    store = StateStore(path)
    assert store.schema_version == SCHEMA_VERSION + 1
    with sqlite3.connect(path) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    assert {"batches", "jobs", "extra", "leftover"} <= tables


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as con:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(LabellakeError, match="newer than this labellake"):
        StateStore(path)


def test_a_file_that_is_not_sqlite_is_named(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is no database" * 100)
    with pytest.raises(LabellakeError, match=f"state store {path} is not a SQLite database"):
        StateStore(path)


def test_a_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    with pytest.raises(RuntimeError), store.transaction() as con:
        StateStore.add_event(con, "Something")
        raise RuntimeError("midway")
    assert store.events() == []


WRITER = """
import sys
from labellake.workflows.labeling.state import StateStore
store = StateStore(sys.argv[1])
for i in range(200):
    with store.transaction() as con:
        StateStore.add_event(con, "Tick", actor=sys.argv[2])
"""


def test_processes_write_at_the_same_time(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore(path)
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{i}"]) for i in range(3)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    assert len(StateStore(path).events(kind="Tick")) == 600


def test_lease_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    import socket

    ghost = f"{socket.gethostname()}:{dead}:feed"
    assert store.acquire_lease("runner", ghost, ttl_s=60)
    assert store.lease_holder("runner") is None  # held, but by a process that is gone
    live = state.lease_owner()
    assert store.acquire_lease("runner", live, ttl_s=60)
    assert not store.acquire_lease("runner", state.lease_owner(), ttl_s=60)
    assert store.acquire_lease("runner", live, ttl_s=60)  # renewing
    assert store.lease_holder("runner") == live
    store.release_lease("runner", live)
    assert store.lease_holder("runner") is None
