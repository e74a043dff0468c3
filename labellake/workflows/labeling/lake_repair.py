"""Repairing a damaged lake: damaged files go aside, then the tables are rebuilt.

The rule: a repair never loses data. Every lake file that cannot be read is copied out of
the lake (into a quarantine folder of the home) before it is removed, so the tables are
readable again; then every table is rebuilt from where its rows come from: `batches` and
`jobs` from the state store (as a finished batch lands), the job tables (labels,
annotations, worker metrics, QA findings, stats, loads) from the raw zone, exactly as
`labellake etl run --force` loads them. Every write goes through the lake writer, so a
file appears whole or not at all. Damaged files that no rebuild here covers (documents,
benchmark runs, jobs imported from Ground Truth or another tool) are named with the
command that writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labellake.etl.jobs import LoadReport, load_job
from labellake.lake import ObjectStore
from labellake.workflows.home import Home
from labellake.workflows.labeling.engine import Engine
from labellake.workflows.labeling.lake_sync import completed_jobs
from labellake.workflows.labeling.status import FINAL_BATCH_STATUSES

QUARANTINE = "quarantine"  # folder of the home that keeps the damaged files
# Where the rows of the tables the repair does not rebuild come from, by unit.
REWRITTEN_BY = {
    "job": "`labellake import groundtruth|cvat|labelstudio|coco` (a job the state store "
    "does not know)",
    "document": "`labellake documents ingest`",
    "run": "`labellake bench run` or `labellake bench published`",
}


@dataclass
class RepairReport:
    """What `repair_lake` found, where the damaged files went and what it rebuilt."""

    damaged: dict[str, str] = field(default_factory=dict)  # lake key -> why it is unreadable
    quarantined: dict[str, str] = field(default_factory=dict)  # lake key -> URI of its copy
    batches: list[str] = field(default_factory=list)  # batches landed again from state
    loads: list[LoadReport] = field(default_factory=list)  # jobs reloaded from the raw zone
    not_rebuilt: dict[str, str] = field(default_factory=dict)  # lake key -> what writes it
    still_damaged: dict[str, str] = field(default_factory=dict)  # unreadable after the repair

    @property
    def problems(self) -> int:
        return sum(len(load.problems) for load in self.loads)


def quarantine_store(home: Home) -> ObjectStore:
    """The home's quarantine folder: damaged lake files are kept there, out of the lake."""
    return ObjectStore.from_uri(home.settings.home / QUARANTINE)


def repair_lake(engine: Engine, quarantine: ObjectStore) -> RepairReport:
    """Move the lake's damaged files into ``quarantine`` and rebuild its tables."""
    lake = engine.lake
    report = RepairReport(damaged=lake.damaged_files(deep=True))
    # A batch that is in the lake now (or was, in a damaged file) is landed again.
    in_lake = {_unit(key) for name in ("batches", "jobs") for key in lake.files(name)}
    folder = engine.clock().strftime("%Y%m%dT%H%M%S.%fZ")
    for key in sorted(report.damaged):
        report.quarantined[key] = _move_aside(lake.store, key, quarantine, f"{folder}/{key}")
    for batch in engine.state.batches():
        if batch["status"] in FINAL_BATCH_STATUSES or batch["batch_id"] in in_lake:
            engine.land(batch["batch_id"])
            report.batches.append(batch["batch_id"])
    jobs = completed_jobs(engine)
    report.loads = [load_job(job, lake, aws=engine.config.aws, force=True) for job in jobs]
    rebuilt = {
        "batch": set(report.batches),
        "job": {job.job_name for job in jobs},
    }
    for key in report.damaged:
        unit = lake.table(key.split("/", 1)[0]).unit
        if _unit(key) not in rebuilt.get(unit, set()):
            report.not_rebuilt[key] = REWRITTEN_BY.get(unit, "the step that wrote it")
    report.still_damaged = lake.damaged_files(deep=True)
    return report


def _unit(key: str) -> str:
    """The unit a lake file holds: its name without `.parquet`."""
    return key.rsplit("/", 1)[-1].removesuffix(".parquet")


def _move_aside(lake_store: ObjectStore, key: str, quarantine: ObjectStore, target: str) -> str:
    """Copy the file into the quarantine (atomically), then remove it from the lake."""
    quarantine.ensure_root()
    uri = quarantine.write_bytes(target, lake_store.read_bytes(key))
    lake_store.delete(key)
    return uri
