"""The embedded default's folder, and the components built from the settings.

Each component takes its paths as arguments; this is the one place that turns
the resolved settings into those arguments.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from labellake import sql
from labellake.errors import LabellakeError
from labellake.lake import Lake, ObjectStore
from labellake.lake.athena import AthenaEngine
from labellake.lake.glue import GlueCatalog
from labellake.settings import Settings


@dataclass
class Home:
    settings: Settings
    objects: ObjectStore
    lake: Lake

    @classmethod
    def open(cls, settings: Settings, *, create: bool = True) -> Home:
        """The stores named by ``settings``; creates local folders unless ``create`` is False."""
        aws = {"region": settings.aws_region, "endpoint_url": settings.aws_endpoint_url}
        glue = None
        if settings.profile == "aws" and str(settings.lake_uri).startswith("s3://"):
            glue = GlueCatalog(
                settings.aws_names()["glue_database"],
                str(settings.lake_uri),
                settings.aws_region,
                settings.aws_endpoint_url,
            )
        athena = None
        if settings.engine == "athena":
            names = settings.aws_names()
            athena = AthenaEngine(
                names["glue_database"],
                names["workgroup"],
                sql.views(),
                settings.aws_region,
                settings.aws_endpoint_url,
            )
        home = cls(
            settings=settings,
            objects=ObjectStore.from_uri(settings.objects_uri, **aws),
            lake=Lake(
                ObjectStore.from_uri(settings.lake_uri, **aws),
                views=sql.views(),
                glue=glue,
                athena=athena,
            ),
        )
        if create:
            home.ensure()
        return home

    @property
    def state_db(self) -> Path:
        assert self.settings.state_db is not None
        return self.settings.state_db

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


def check_state_db(path: Path) -> str:
    """Open (and migrate) the workflow state store and run SQLite's integrity check."""
    from labellake.workflows.labeling.state import StateStore

    store = StateStore(path)
    with store.connect() as con:
        mode = con.execute("PRAGMA journal_mode").fetchone()[0]
        verdict = con.execute("PRAGMA quick_check").fetchone()[0]
    if verdict != "ok":
        raise LabellakeError(f"state store {path} is damaged ({verdict}); restore it from a backup")
    return (
        f"{path}: schema version {store.schema_version}, SQLite {sqlite3.sqlite_version}, "
        f"journal mode {mode}"
    )
