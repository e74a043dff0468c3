"""A home: the settings, the object store and the lake they name (built by
compose.open_home), the state db's path, the API token kept beside it, and where
request fields may read."""

from __future__ import annotations

import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from labellake.errors import LabellakeError
from labellake.lake import Lake, ObjectStore
from labellake.lake.inputs import InputPolicy
from labellake.settings import Settings


@dataclass
class Home:
    settings: Settings
    objects: ObjectStore
    lake: Lake

    @property
    def state_db(self) -> Path:
        assert self.settings.state_db is not None
        return self.settings.state_db

    @property
    def token_file(self) -> Path:
        """Where the API's admin token is kept (mode 0600)."""
        return self.settings.home / "api-token"

    def api_token(self, *, rotate: bool = False) -> tuple[str, bool]:
        """The API's admin token and whether it is new: the api_token setting, else the one
        kept in the home (made on first use, or anew with ``rotate``)."""
        if self.settings.api_token and not rotate:
            return self.settings.api_token, False
        path = self.token_file
        if not rotate:
            try:
                kept = path.read_text().strip()
            except FileNotFoundError:
                kept = ""
            except OSError as exc:
                raise LabellakeError(
                    f"cannot read the API token file {path}: {exc.strerror}; "
                    "rotate it with `labellake api token --rotate`"
                ) from exc
            if kept:
                return kept, False
        token = secrets.token_urlsafe(32)
        write_secret(path, token + "\n")
        return token, True

    def input_policy(self, *, local_files: bool = False) -> InputPolicy:
        """Where request fields may point: the object store, s3:// and allowed_input_roots;
        with ``local_files`` (the CLI) any local file too. Never the state files."""
        settings = self.settings
        roots = [self.objects.root] if self.objects.is_local else []
        state = str(self.state_db)
        denied = [state, f"{state}-wal", f"{state}-shm", f"{state}-journal", self.token_file]
        return InputPolicy.build(
            [*roots, *settings.allowed_input_roots],
            denied,
            local_files=local_files,
            max_bytes=settings.max_input_bytes,
            max_config_bytes=settings.max_config_bytes,
            aws=settings.aws,
        )

    def ensure(self) -> None:
        """Create home, objects/ and lake/ where they are local; clear error if impossible."""
        try:
            self.settings.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabellakeError(
                f"cannot create home directory {self.settings.home}: "
                f"{exc.strerror or exc}; choose another with --home or LABELLAKE_HOME"
            ) from exc
        self.objects.ensure_root()
        self.lake.store.ensure_root()
        try:
            self.state_db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LabellakeError(
                f"cannot create the folder of state_db {self.state_db}: {exc.strerror or exc}; "
                "set --home, LABELLAKE_STATE_DB or state_db in labellake.toml"
            ) from exc


def write_secret(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), atomically."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LabellakeError(
            f"cannot write {path}: {exc.strerror}; check the home's permissions"
        ) from None


def check_state_db(path: Path) -> str:
    """Open the workflow state db, migrate every subsystem's tables in it, and run SQLite's
    integrity check."""
    from labellake.workflows.labeling.backends.local_tasks import LOCAL_TASKS
    from labellake.workflows.labeling.sqlite_store import LABELING
    from labellake.workflows.models.schema import MODELS
    from labellake.workflows.people.accounts import ACCOUNTS
    from labellake.workflows.people.workforce import WORKFORCE
    from labellake.workflows.statedb import StateDb

    db = StateDb(path)
    db.migrate(LABELING, ACCOUNTS, WORKFORCE, LOCAL_TASKS, MODELS)
    with db.connect() as con:
        mode = con.execute("PRAGMA journal_mode").fetchone()[0]
        verdict = con.execute("PRAGMA quick_check").fetchone()[0]
    if verdict != "ok":
        raise LabellakeError(f"state store {path} is damaged ({verdict}); restore it from a backup")
    versions = ", ".join(f"{name} {version}" for name, version in db.versions().items())
    return (
        f"{path}: schema version {db.schema_version} ({versions}), "
        f"SQLite {sqlite3.sqlite_version}, journal mode {mode}"
    )
