"""The SQLite state db: the one file (state.db) that a host's subsystems share.

The rule: this module owns the file, never a subsystem's tables. It creates the file
for its owner alone, opens one connection per thread in WAL mode, serialises writes
(each one short IMMEDIATE transaction), keeps named leases, says plainly when the file
is damaged, and runs migrations. Each subsystem (labeling batches, accounts, the
workforce, the local task queue, model runs) declares its tables as a ``Schema`` in its
own module; a subsystem reaches the db through ``StateDb.subsystem(...)``, which
migrates its tables on first use (the batch store migrates its own when it opens).

Versions: each subsystem's version is a row of ``schema_versions``, and PRAGMA
user_version is ``PER_SUBSYSTEM`` (9) once the file has that table. A file written
before (user_version 1-8: one migration list for every table) is converted when first
opened: the table gets a ``legacy`` row holding that user_version, and a subsystem
without a row of its own starts from the version its share of those migrations reached
(``Schema.legacy``), so nothing is applied twice and nothing is lost.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from labellake.errors import LabellakeError

LEGACY = "legacy"  # the schema_versions row of a file's single-list user_version (1-8)
PER_SUBSYSTEM = 9  # PRAGMA user_version of a file whose versions are in schema_versions


@dataclass(frozen=True)
class Schema:
    """One subsystem's tables: its migrations, oldest first (statements split on ';').

    ``legacy[i]`` is the user_version of the single migration list (1-8) whose
    migration created what ``migrations[i]`` creates; a migration added since has none.
    """

    name: str
    migrations: tuple[str, ...]
    legacy: tuple[int, ...] = ()

    @property
    def version(self) -> int:
        return len(self.migrations)

    def legacy_version(self, user_version: int) -> int:
        """How many of its migrations a file of the single list at ``user_version`` has."""
        return sum(1 for applied_in in self.legacy if applied_in <= user_version)


# The leases of the processes that share the file (the embedded runner's, for one).
LEASES = Schema(
    "leases",
    (
        """
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            expires_at REAL NOT NULL
        );
        """,
    ),
    legacy=(1,),
)


def _owner_only(path: Path) -> None:
    """Create the state file (or narrow an existing one) readable by its owner alone: it
    holds accounts and the workflow's records. SQLite gives its -wal and -shm files the
    database file's mode.

    An existing file is never opened here: closing any descriptor of it would release
    every SQLite lock this process holds on it (POSIX lock semantics)."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        try:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
        except OSError:
            pass  # another user's file: opening it says what is wrong
    except OSError:
        pass  # a read-only folder: opening it says what is wrong


class StateDb:
    """A path to the SQLite file; each thread opens one connection to it and keeps it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        # Threads of one process queue here for the write lock instead of in SQLite's busy
        # handler, whose sleeps grow to 100 ms and make the tail latency of the API.
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._migrated: set[str] = set()
        self._open()
        self.migrate(LEASES)

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection (opened once per thread and kept)."""
        con = getattr(self._local, "con", None)
        if con is None:
            try:
                con = sqlite3.connect(
                    self.path, timeout=30, isolation_level=None, check_same_thread=True
                )
            except sqlite3.Error as exc:
                raise LabellakeError(
                    f"cannot open the state store {self.path}: {exc}; check LABELLAKE_STATE_DB"
                ) from exc
            con.row_factory = sqlite3.Row
            try:
                con.execute("PRAGMA foreign_keys = ON")
                con.execute("PRAGMA busy_timeout = 30000")
                # In WAL mode, NORMAL keeps every committed transaction across a crash of the
                # process; only a power loss can take back the last few.
                con.execute("PRAGMA synchronous = NORMAL")
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.DatabaseError as exc:
                con.close()
                raise LabellakeError(
                    f"state store {self.path} is not a SQLite database ({exc}); move it aside "
                    "or set LABELLAKE_STATE_DB"
                ) from exc
            self._local.con = con
        try:
            yield con
        except sqlite3.DatabaseError as exc:
            if _damaged(exc):
                # This connection keeps failing even once the file is whole again.
                self.close()
            raise

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all of it happens, or none of it."""
        with self._write_lock, self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            self._local.writing = True
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                self._local.writing = False
            con.execute("COMMIT")

    # -- versions and migrations -------------------------------------------------------

    def _open(self) -> None:
        """Create the file (and its folder), switch it to WAL, refuse a newer one, and
        convert a file of the single migration list to per-subsystem versions."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabellakeError(
                f"cannot create the folder of the state store {self.path}: {exc.strerror}"
            ) from exc
        _owner_only(self.path)
        with self.connect() as con:
            try:
                con.execute("PRAGMA journal_mode = WAL")
                version = con.execute("PRAGMA user_version").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise LabellakeError(
                    f"state store {self.path} is not a SQLite database ({exc}); move it aside "
                    "or set LABELLAKE_STATE_DB"
                ) from exc
        if version > PER_SUBSYSTEM:
            raise LabellakeError(
                f"state store {self.path} has schema version {version}, newer than this "
                f"labellake ({PER_SUBSYSTEM}); upgrade labellake"
            )
        if version == PER_SUBSYSTEM:
            return
        with self.transaction() as con:
            # Another process may have converted it while this one waited.
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version < PER_SUBSYSTEM:
                con.execute(
                    "CREATE TABLE IF NOT EXISTS schema_versions ("
                    "subsystem TEXT PRIMARY KEY, version INTEGER NOT NULL)"
                )
                if version:
                    con.execute(
                        "INSERT INTO schema_versions (subsystem, version) VALUES (?, ?)",
                        (LEGACY, version),
                    )
                con.execute(f"PRAGMA user_version = {PER_SUBSYSTEM}")

    def migrate(self, *schemas: Schema) -> None:
        """Bring each subsystem's tables to this labellake's version, in the order given (a
        schema whose tables reference another's comes after it). Once per db object."""
        for schema in schemas:
            if schema.name in self._migrated:
                continue
            with self.connect() as con:
                start, recorded = self._version(con, schema)
            if start < schema.version and getattr(self._local, "writing", False):
                # The write lock is this thread's already: migrating now would wait forever.
                raise RuntimeError(
                    f"the {schema.name} tables are migrated inside a transaction; open their "
                    "subsystem (or migrate them) before it"
                )
            for number in range(start, schema.version):
                with self.transaction() as con:
                    # Another process may have migrated while this one waited.
                    if self._version(con, schema)[0] > number:
                        continue
                    for statement in schema.migrations[number].split(";"):
                        if statement.strip():
                            con.execute(statement)
                    self._set_version(con, schema.name, number + 1)
            if not recorded and start and start == schema.version:
                with self.transaction() as con:
                    # A version taken over from a legacy file is written down once.
                    con.execute(
                        "INSERT INTO schema_versions (subsystem, version) VALUES (?, ?) "
                        "ON CONFLICT (subsystem) DO NOTHING",
                        (schema.name, start),
                    )
            self._migrated.add(schema.name)

    def versions(self) -> dict[str, int]:
        """The version of each subsystem's tables in the file, by subsystem name."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT subsystem, version FROM schema_versions WHERE subsystem != ? "
                "ORDER BY subsystem",
                (LEGACY,),
            ).fetchall()
        return {row["subsystem"]: int(row["version"]) for row in rows}

    @property
    def schema_version(self) -> int:
        """The file's layout version (PRAGMA user_version): ``PER_SUBSYSTEM`` once opened."""
        with self.connect() as con:
            return int(con.execute("PRAGMA user_version").fetchone()[0])

    def _version(self, con: sqlite3.Connection, schema: Schema) -> tuple[int, bool]:
        """The subsystem's version in the file, and whether it has a row of its own."""
        row = con.execute(
            "SELECT version FROM schema_versions WHERE subsystem = ?", (schema.name,)
        ).fetchone()
        if row is not None:
            version = int(row["version"])
        else:
            legacy = con.execute(
                "SELECT version FROM schema_versions WHERE subsystem = ?", (LEGACY,)
            ).fetchone()
            version = schema.legacy_version(int(legacy["version"])) if legacy else 0
        if version > schema.version:
            raise LabellakeError(
                f"state store {self.path} has schema version {version} of its {schema.name} "
                f"tables, newer than this labellake ({schema.version}); upgrade labellake"
            )
        return version, row is not None

    @staticmethod
    def _set_version(con: sqlite3.Connection, name: str, version: int) -> None:
        con.execute(
            "INSERT INTO schema_versions (subsystem, version) VALUES (?, ?) "
            "ON CONFLICT (subsystem) DO UPDATE SET version = excluded.version",
            (name, version),
        )

    # -- leases ----------------------------------------------------------------------------

    def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or renew lease ``name``; a lease of a dead process on this host is taken over."""
        with self.transaction() as con:
            row = con.execute(
                "SELECT owner, expires_at FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if (
                row
                and row["owner"] != owner
                and row["expires_at"] > time.time()
                and (_owner_alive(row["owner"]))
            ):
                return False
            con.execute(
                "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, "
                "expires_at = excluded.expires_at",
                (name, owner, time.time() + ttl_s),
            )
            return True

    def release_lease(self, name: str, owner: str) -> None:
        with self.transaction() as con:
            con.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    def lease_holder(self, name: str) -> str | None:
        with self.connect() as con:
            row = con.execute(
                "SELECT owner, expires_at FROM leases WHERE name = ?", (name,)
            ).fetchone()
        if row and row["expires_at"] > time.time() and _owner_alive(row["owner"]):
            return str(row["owner"])
        return None

    def subsystem(self, *schemas: Schema) -> SubsystemDb:
        """The way into this db of a subsystem whose tables are ``schemas``."""
        return SubsystemDb(self, schemas)


class SubsystemDb:
    """A subsystem's way into the state db: its connections and transactions, with its
    tables migrated first, on first use (so opening a subsystem reads nothing yet)."""

    def __init__(self, db: StateDb, schemas: tuple[Schema, ...]) -> None:
        self.db = db
        self.schemas = schemas

    @property
    def path(self) -> Path:
        return self.db.path

    def connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        self.db.migrate(*self.schemas)
        return self.db.connect()

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        self.db.migrate(*self.schemas)
        return self.db.transaction()


class OnStateDb(Protocol):
    """Something kept in or beside a state db (a batch store, a subsystem): it names it."""

    @property
    def db(self) -> StateDb: ...


def state_db(holder: StateDb | OnStateDb) -> StateDb:
    """The state db itself, or the one a batch store keeps this host's records in
    (accounts, the workforce, the local task queue, leases)."""
    return holder if isinstance(holder, StateDb) else holder.db


def lease_owner() -> str:
    """host:pid:random, so a restarted process never mistakes itself for its predecessor."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(4).hex()}"


def _damaged(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or the error it was raised while handling) says the file is damaged."""
    while exc is not None:
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and (code & 0xFF) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return True
        exc = exc.__context__
    return False


def _owner_alive(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    if host != socket.gethostname():
        return True  # another machine: trust the expiry time
    try:
        os.kill(int(rest.split(":", 1)[0]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True
