"""Nothing in a process ever opens and closes state.db beside SQLite: closing any
descriptor of the file drops every POSIX lock the process holds on it, so another process
that then closes its own connection believes it is the last one, checkpoints and removes
the WAL, and this process goes on reading an index nobody writes to: batches accepted
after that are invisible to it (and its runner), or lost.

The API opens several stores on one file (the engine's, the model workflow's, the
workforce's), so opening a second store must leave the first one's view of the file whole.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from labellake.workflows.labeling.sqlite_store import SqliteBatchStore
from labellake.workflows.people.accounts import Accounts
from labellake.workflows.statedb import StateDb

# A batch row written by another process, which then keeps its connection for `hold` s.
WRITE = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA journal_mode = WAL")
con.execute(
    "INSERT INTO batches (batch_id, status, request, token, attempt, created_at, updated_at,"
    " down_sampling_rate) VALUES (?, 'IN_PROGRESS', '{}', 't', 1, 'x', 'x', 100)",
    (sys.argv[2],),
)
print("written", flush=True)
time.sleep(float(sys.argv[3]))
con.close()
"""


def test_a_second_store_on_the_file_keeps_the_first_ones_view(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = SqliteBatchStore(path)
    assert first.batch("b0") is None  # this thread's connection is open from here on
    SqliteBatchStore(path)
    assert Accounts(StateDb(path)).list() == []  # a subsystem migrating its own tables
    # Another process writes and closes: it checkpoints, and removes the WAL only if it
    # believes no other process has the file open.
    subprocess.run([sys.executable, "-c", WRITE, str(path), "b1", "0"], check=True)
    # A third writes into a fresh WAL and stays open.
    third = subprocess.Popen(
        [sys.executable, "-c", WRITE, str(path), "b2", "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert third.stdout is not None and third.stdout.readline().strip() == "written"
        assert first.batch("b1") is not None
        assert first.batch("b2") is not None
    finally:
        third.kill()
        third.wait()
