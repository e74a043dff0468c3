"""State db files written before per-subsystem versions open and migrate without loss.

Those files carry one migration list for every table (PRAGMA user_version 1-8). Each
case builds such a file from that list, as it was, with a row in every table of its
version, opens it with the current code (every subsystem, as `labellake doctor` does) and
finds the rows, and the columns and tables added since.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from labellake.workflows.home import check_state_db
from labellake.workflows.labeling.backends.local_tasks import LOCAL_TASKS, TaskQueue
from labellake.workflows.labeling.sqlite_store import LABELING, SqliteBatchStore
from labellake.workflows.models.schema import MODELS
from labellake.workflows.people.accounts import ACCOUNTS, Accounts, SignInError
from labellake.workflows.people.workforce import WORKFORCE, Workforce
from labellake.workflows.statedb import LEASES, PER_SUBSYSTEM, StateDb

# The schema of versions 1-8: labellake's single MIGRATIONS tuple before each subsystem
# kept its own tables (kept here as data, exactly as it was; never change it).
LEGACY_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema.
    """
    CREATE TABLE batches (
        batch_id TEXT PRIMARY KEY COLLATE NOCASE,
        status TEXT NOT NULL,
        request TEXT NOT NULL,
        down_sampling_rate REAL NOT NULL DEFAULT 100,
        destination TEXT,
        token TEXT NOT NULL,
        message TEXT,
        error_type TEXT,
        attempt INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        completed_at TEXT
    );
    CREATE INDEX batches_status ON batches(status);
    CREATE TABLE levels (
        batch_id TEXT NOT NULL COLLATE NOCASE REFERENCES batches(batch_id) ON DELETE CASCADE,
        level INTEGER NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT,
        completed_at TEXT,
        PRIMARY KEY (batch_id, level)
    );
    CREATE TABLE jobs (
        job_name TEXT PRIMARY KEY COLLATE NOCASE,
        batch_id TEXT NOT NULL COLLATE NOCASE REFERENCES batches(batch_id) ON DELETE CASCADE,
        level INTEGER NOT NULL,
        modality TEXT NOT NULL,
        annotation_type TEXT,
        status TEXT NOT NULL,
        chain_from TEXT COLLATE NOCASE,
        workteam_arn TEXT NOT NULL,
        label_attribute_name TEXT NOT NULL,
        label_config_uri TEXT,
        source_manifest_uri TEXT,
        input_manifest_uri TEXT,
        output_manifest_uri TEXT,
        down_sampling_rate REAL,
        backend_job_id TEXT,
        attempt INTEGER NOT NULL DEFAULT 0,
        object_count INTEGER,
        message TEXT,
        spec TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        completed_at TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX jobs_batch ON jobs(batch_id, level);
    CREATE TABLE tasks (
        job_name TEXT NOT NULL COLLATE NOCASE REFERENCES jobs(job_name) ON DELETE CASCADE,
        data_object_id INTEGER NOT NULL,
        source_ref TEXT NOT NULL,
        status TEXT NOT NULL,
        worker_id TEXT,
        accepted_at TEXT,
        submitted_at TEXT,
        PRIMARY KEY (job_name, data_object_id)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        batch_id TEXT COLLATE NOCASE,
        job_name TEXT COLLATE NOCASE,
        kind TEXT NOT NULL,
        actor TEXT,
        payload TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX events_batch ON events(batch_id, id);
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id INTEGER NOT NULL,
        batch_id TEXT NOT NULL COLLATE NOCASE,
        url TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        delivered_at TEXT
    );
    CREATE INDEX notifications_due ON notifications(status, next_attempt_at);
    CREATE TABLE retired_names (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        kind TEXT NOT NULL,
        retired_at TEXT NOT NULL
    );
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    """,
    # 2: portal accounts (sign-in with LABELLAKE_PORTAL_AUTH=1).
    """
    CREATE TABLE accounts (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        locked_until REAL NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        last_sign_in_at TEXT
    );
    """,
    # 3: the local workforce: work teams, their workers, one-time invites.
    """
    CREATE TABLE teams (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE team_members (
        team TEXT NOT NULL COLLATE NOCASE REFERENCES teams(name) ON DELETE CASCADE,
        account TEXT NOT NULL COLLATE NOCASE REFERENCES accounts(name) ON DELETE CASCADE,
        PRIMARY KEY (team, account)
    );
    ALTER TABLE accounts ADD COLUMN invite_hash TEXT;
    """,
    # 4: jobs name their labeling backend; the local backend's jobs, task queue and
    # worker activity events.
    """
    ALTER TABLE jobs ADD COLUMN backend TEXT;
    CREATE TABLE work_jobs (
        job_id TEXT PRIMARY KEY COLLATE NOCASE,
        job_name TEXT NOT NULL COLLATE NOCASE,
        batch_id TEXT NOT NULL COLLATE NOCASE,
        team TEXT NOT NULL COLLATE NOCASE,
        request TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE work_tasks (
        job_id TEXT NOT NULL COLLATE NOCASE REFERENCES work_jobs(job_id) ON DELETE CASCADE,
        data_object_id INTEGER NOT NULL,
        source_ref TEXT NOT NULL,
        line TEXT NOT NULL,
        status TEXT NOT NULL,
        worker TEXT COLLATE NOCASE,
        accepted_at REAL,
        lease_expires REAL,
        submitted_at REAL,
        declined_by TEXT NOT NULL DEFAULT '[]',
        draft TEXT,
        output TEXT,
        PRIMARY KEY (job_id, data_object_id)
    );
    CREATE INDEX work_tasks_status ON work_tasks(status, job_id);
    CREATE TABLE work_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL COLLATE NOCASE REFERENCES work_jobs(job_id) ON DELETE CASCADE,
        event TEXT NOT NULL
    );
    """,
    # 5: Step Functions: a batch's execution, and the task token a level's task waits on.
    """
    ALTER TABLE batches ADD COLUMN execution_arn TEXT;
    ALTER TABLE levels ADD COLUMN task_token TEXT;
    """,
    # 6: model runs (TRAIN and HPO), their trials, and the endpoints that serve them.
    """
    CREATE TABLE model_runs (
        run_id TEXT PRIMARY KEY,
        model_name TEXT NOT NULL,
        mode TEXT NOT NULL,
        status TEXT NOT NULL,
        estimator TEXT,
        request TEXT NOT NULL,
        dataset TEXT,
        rows INTEGER,
        params TEXT,
        metrics TEXT,
        artifact_uri TEXT,
        endpoint_id TEXT,
        error TEXT,
        cause TEXT,
        actor TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        completed_at TEXT,
        execution_arn TEXT,
        step TEXT,
        task_token TEXT,
        backend_job TEXT
    );
    CREATE INDEX model_runs_name ON model_runs(model_name, created_at);
    CREATE TABLE model_trials (
        run_id TEXT NOT NULL REFERENCES model_runs(run_id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        params TEXT NOT NULL,
        value REAL,
        state TEXT NOT NULL,
        seconds REAL NOT NULL,
        PRIMARY KEY (run_id, number)
    );
    CREATE TABLE model_endpoints (
        endpoint_id TEXT PRIMARY KEY,
        model_name TEXT NOT NULL,
        run_id TEXT NOT NULL,
        artifact_uri TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        deleted_at TEXT,
        deleted_reason TEXT
    );
    """,
    # 7: failed sign-ins per name, whether or not an account has the name, so a name
    # without one is locked like a name with one (accounts.failed_attempts and
    # locked_until are no longer used; current locks carry over).
    """
    CREATE TABLE sign_in_failures (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        failed_attempts INTEGER NOT NULL,
        locked_until REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX sign_in_failures_expiry ON sign_in_failures(expires_at);
    INSERT INTO sign_in_failures (name, failed_attempts, locked_until, expires_at)
        SELECT name, 0, locked_until, locked_until FROM accounts
        WHERE locked_until > CAST(strftime('%s', 'now') AS REAL);
    """,
    # 8: a personal API token per account (its SHA-256; the token is shown once).
    """
    ALTER TABLE accounts ADD COLUMN api_token_hash TEXT;
    CREATE UNIQUE INDEX accounts_api_token ON accounts(api_token_hash);
    """,
)


AT = "2026-01-01T00:00:00+00:00"
# A row for each table, by the version that created the table.
ROWS: dict[int, list[str]] = {
    1: [
        "INSERT INTO batches (batch_id, status, request, token, created_at, updated_at) "
        f"VALUES ('old', 'COMPLETE', '{{}}', 'old-token', '{AT}', '{AT}')",
        "INSERT INTO levels (batch_id, level, status) VALUES ('old', 1, 'COMPLETE')",
        "INSERT INTO jobs (job_name, batch_id, level, modality, status, workteam_arn, "
        "label_attribute_name, spec, created_at, updated_at) VALUES ('old-job', 'old', 1, "
        f"'VideoObjectTracking', 'COMPLETE', 'arn:team', 'vehicle', '{{}}', '{AT}', '{AT}')",
        "INSERT INTO tasks (job_name, data_object_id, source_ref, status) "
        "VALUES ('old-job', 0, 's3://b/clip0', 'COMPLETE')",
        f"INSERT INTO events (batch_id, kind, created_at) VALUES ('old', 'BatchCreated', '{AT}')",
        "INSERT INTO notifications (event_id, batch_id, url, payload, status, "
        f"next_attempt_at) VALUES (1, 'old', 'https://hook', '{{\"a\": 1}}', 'DELIVERED', '{AT}')",
        f"INSERT INTO retired_names (name, kind, retired_at) VALUES ('gone', 'batch', '{AT}')",
        "INSERT INTO leases (name, owner, expires_at) VALUES ('runner', 'elsewhere:1:a', 0)",
    ],
    2: [
        # Locked until long after the test: the lock carries over to sign_in_failures.
        "INSERT INTO accounts (name, role, password_hash, locked_until, created_at) "
        f"VALUES ('alice', 'admin', 'not-a-hash', 4102444800, '{AT}')",
    ],
    3: [
        f"INSERT INTO teams (name, created_at) VALUES ('first-level', '{AT}')",
        "INSERT INTO accounts (name, role, password_hash, invite_hash, created_at) "
        f"VALUES ('wendy', 'worker', '', 'invite-hash', '{AT}')",
        "INSERT INTO team_members (team, account) VALUES ('first-level', 'wendy')",
    ],
    4: [
        "INSERT INTO work_jobs (job_id, job_name, batch_id, team, request, status, "
        "created_at) VALUES ('old-job', 'old-job', 'old', 'first-level', '{}', 'Completed', 0)",
        "INSERT INTO work_tasks (job_id, data_object_id, source_ref, line, status) "
        "VALUES ('old-job', 0, 's3://b/clip0', '{}', 'SUBMITTED')",
        "INSERT INTO work_events (job_id, event) VALUES ('old-job', '{}')",
    ],
    6: [
        "INSERT INTO model_runs (run_id, model_name, mode, status, request, created_at, "
        f"updated_at) VALUES ('run-1', 'effort', 'TRAIN', 'READY', '{{}}', '{AT}', '{AT}')",
        "INSERT INTO model_trials (run_id, number, params, state, seconds) "
        "VALUES ('run-1', 0, '{}', 'COMPLETE', 1.5)",
        "INSERT INTO model_endpoints (endpoint_id, model_name, run_id, artifact_uri, status, "
        f"created_at) VALUES ('ep-1', 'effort', 'run-1', 's3://b/model', 'InService', '{AT}')",
    ],
    7: [
        "INSERT INTO sign_in_failures (name, failed_attempts, locked_until, expires_at) "
        "VALUES ('mallory', 3, 0, 4102444800)",
    ],
}
CURRENT = {
    ACCOUNTS.name: ACCOUNTS.version,
    LABELING.name: LABELING.version,
    LEASES.name: LEASES.version,
    LOCAL_TASKS.name: LOCAL_TASKS.version,
    MODELS.name: MODELS.version,
    WORKFORCE.name: WORKFORCE.version,
}


def legacy_file(path: Path, version: int) -> None:
    """A state db as the single migration list left it at ``version``, with its rows."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    for number in range(version):
        for statement in LEGACY_MIGRATIONS[number].split(";"):
            if statement.strip():
                con.execute(statement)
        for statement in ROWS.get(number + 1, []):
            con.execute(statement)
        con.execute(f"PRAGMA user_version = {number + 1}")
    con.close()


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as con:
        return {row[0] for row in con.execute("SELECT name FROM sqlite_master")}


@pytest.mark.parametrize("version", [1, 3, 5, 8])
def test_a_file_of_the_single_migration_list_opens_with_every_row(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "state.db"
    legacy_file(path, version)
    assert f"schema version {PER_SUBSYSTEM} (" in check_state_db(path)
    db = StateDb(path)
    assert db.versions() == CURRENT
    store = SqliteBatchStore(path)
    batch = store.batch("OLD")
    assert batch is not None and batch["token"] == "old-token"
    assert batch["execution_arn"] is None  # a column of version 5
    assert store.levels("old")[0]["task_token"] is None
    assert store.job("old-job")["backend"] is None  # a column of version 4
    assert store.task_count("old") == 1
    assert [e["kind"] for e in store.events("old")] == ["BatchCreated"]
    assert store.notifications("old")[0]["payload"] == {"a": 1}
    assert store.names_taken(["gone"]) == ["gone"]
    assert db.lease_holder("runner") is None  # expired long ago, but the row is there
    if version >= 2:
        accounts = Accounts(db)
        assert accounts.get("alice")["role"] == "admin"
        with pytest.raises(SignInError, match="too many failed sign-ins"):
            accounts.sign_in("alice", "any password")  # the old lock carried over
        assert accounts.issue_token("alice").startswith("llk_")  # a column of version 8
    if version >= 3:
        team = Workforce(db, "us-east-1", "111122223333").team("first-level")
        assert team["workers"] == [{"workerId": "local.wendy", "name": "wendy", "invited": True}]
    queue = TaskQueue(db, "us-east-1", "111122223333")
    assert queue.progress("old-job") == (
        {"waiting": 0, "held": 0, "submitted": 1, "total": 1} if version >= 4 else None
    )
    with sqlite3.connect(path) as con:
        runs = con.execute("SELECT run_id FROM model_runs").fetchall()
        failures = con.execute("SELECT name FROM sign_in_failures ORDER BY name").fetchall()
    assert runs == ([("run-1",)] if version >= 6 else [])
    assert [row[0] for row in failures] == (
        ["alice", "mallory"] if version >= 7 else ["alice"] if version >= 2 else []
    )
    assert {"schema_versions", "work_jobs", "model_endpoints", "teams"} <= tables(path)


def test_each_subsystem_migrates_its_own_tables_from_the_legacy_version(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    legacy_file(path, 3)
    store = SqliteBatchStore(path)  # the batch store alone: labeling catches up
    assert store.db.versions() == {"labeling": LABELING.version, "leases": LEASES.version}
    assert "work_jobs" not in tables(path) and "sign_in_failures" not in tables(path)
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == PER_SUBSYSTEM
        legacy = con.execute(
            "SELECT version FROM schema_versions WHERE subsystem = 'legacy'"
        ).fetchone()
    assert legacy == (3,)
    # Later, the workforce uses it: the accounts' version 3 and 4 run (not 1 and 2 again).
    force = Workforce(StateDb(path), "us-east-1", "111122223333")
    assert "sign_in_failures" not in tables(path)  # opening it reads nothing yet
    assert [team["workteamName"] for team in force.teams()] == ["first-level"]
    assert StateDb(path).versions()["accounts"] == ACCOUNTS.version
    assert {"sign_in_failures"} <= tables(path)
    with pytest.raises(SignInError):
        Accounts(StateDb(path)).sign_in("alice", "any password")
