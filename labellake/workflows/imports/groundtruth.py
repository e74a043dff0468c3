"""Ground Truth job outputs -> the lake: existing jobs (`labellake import groundtruth`, a
folder or an s3:// prefix) and the home's own completed jobs (`labellake etl run`).

The rule: each job loads on its own, keyed by its name, so loading it again replaces its
rows; a job whose output manifest is unchanged is skipped unless forced. What cannot be
read is recorded in `etl_errors` and the rest goes on; a load fails only when nothing at
all could be loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from labellake.aws_clients import AwsTarget
from labellake.etl.imports import find_jobs, parse_map
from labellake.etl.jobs import JobOutput, LoadReport, load_job
from labellake.lake import Lake


@dataclass
class JobLoads:
    """The load report of every job, in the order they were loaded."""

    reports: list[LoadReport] = field(default_factory=list)

    @property
    def loaded(self) -> list[LoadReport]:
        return [report for report in self.reports if not report.skipped]

    @property
    def up_to_date(self) -> int:
        return len(self.reports) - len(self.loaded)

    @property
    def problems(self) -> int:
        return sum(len(report.problems) for report in self.reports)

    @property
    def nothing_loaded(self) -> bool:
        """There were jobs, and not one of them gave labels or annotations."""
        return bool(self.reports) and not any(r.loaded_anything for r in self.reports)


def find_outputs(
    root: str, aws: AwsTarget, job_name: str | None = None, maps: Iterable[str] = ()
) -> list[JobOutput]:
    """Every job output under ``root``; ``maps`` are S3PREFIX=DIR entries that read refs
    under S3PREFIX from the local copy DIR."""
    uri_map = parse_map(list(maps))
    return find_jobs(root, job_name, uri_map, region=aws.region, endpoint_url=aws.endpoint_url)


def load_jobs(
    jobs: list[JobOutput],
    lake: Lake,
    *,
    aws: AwsTarget | None = None,
    force: bool = False,
    track: Callable[[list[JobOutput]], Iterable[JobOutput]] = iter,
    files: Callable[[int, int], None] | None = None,
) -> JobLoads:
    """Load every job into ``lake``; ``track`` wraps the jobs to show progress (it is handed
    the list and yields each job as its load begins), and ``files`` is told how many of the
    job's label files are read (done, total)."""
    return JobLoads(
        [load_job(job, lake, aws=aws, force=force, progress=files) for job in track(jobs)]
    )
