"""Import of existing Ground Truth jobs: walk an output folder or S3 prefix, load every job.

A Ground Truth job writes `<prefix>/<job>/manifests/output/output.manifest` with
`annotations/consolidated-annotation/output/*/SeqLabel.json` and
`annotations/worker-response/` beside it. Teams with years of jobs point the
import at the prefix and get the dashboards at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from labellake.aws_clients import AwsTarget, store_options
from labellake.errors import LabellakeError
from labellake.etl.jobs import MANIFEST, JobOutput, LoadReport, load_job
from labellake.etl.labeling import ManifestLine, job_attribute
from labellake.lake import Lake, ObjectStore

# A Ground Truth job name: letters, digits and hyphens (the lake also allows '.' and '_').
JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def parse_map(entries: list[str]) -> dict[str, str]:
    """['s3://bucket/prefix=/local/dir'] -> {'s3://bucket/prefix': '/local/dir'}."""
    mapping = {}
    for entry in entries:
        source, sep, target = entry.partition("=")
        if not sep or not source or not target:
            raise LabellakeError(f"--map '{entry}': write it as s3://bucket/prefix=/local/dir")
        mapping[source.rstrip("/")] = target.rstrip("/")
    return mapping


def find_jobs(
    root: str, job_name: str | None = None, uri_map: dict[str, str] | None = None, **aws: str | None
) -> list[JobOutput]:
    """Every job output under ``root`` (a folder, file:// or s3:// prefix)."""
    store = ObjectStore.from_uri(root, **aws)
    if (
        store.is_local
        and not store.filesystem.get_file_info(store.root).is_file
        and not (store.exists(MANIFEST) or store.list())
    ):
        raise LabellakeError(f"{root} is empty or does not exist")
    keys = [key for key in store.list(suffix="output.manifest") if key.endswith(MANIFEST)]
    if not keys:
        raise LabellakeError(
            f"no Ground Truth job output under {root} (looked for <job>/{MANIFEST})"
        )
    jobs = []
    for key in keys:
        parts = key[: -len(MANIFEST)].rstrip("/").split("/")
        name = parts[-1] if parts and parts[-1] else None
        if job_name and len(keys) == 1:
            name = job_name
        if not name:  # ROOT is the job's own folder: its name, else the manifest's
            name = _folder_name(store) or _manifest_job_name(store, key)
        if not name:
            raise LabellakeError(f"cannot tell the job name of {store.uri(key)}; pass --job-name")
        jobs.append(
            JobOutput(
                job_name=name, output_manifest_uri=store.uri(key), uri_map=dict(uri_map or {})
            )
        )
    return jobs


def import_jobs(
    root: str,
    lake: Lake,
    *,
    job_name: str | None = None,
    uri_map: dict[str, str] | None = None,
    force: bool = False,
    aws: AwsTarget | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[LoadReport]:
    reports = []
    for job in find_jobs(root, job_name, uri_map, **store_options(aws)):
        if progress:
            progress(job.job_name)
        reports.append(load_job(job, lake, aws=aws, force=force))
    return reports


def _folder_name(store: ObjectStore) -> str | None:
    """The last folder of the store's root; None at a bucket's top."""
    root = store.root.rstrip("/")
    if store.scheme == "s3" and "/" not in root:
        return None
    name = root.rsplit("/", 1)[-1]
    return name if JOB_NAME.fullmatch(name) else None


def _manifest_job_name(store: ObjectStore, key: str) -> str | None:
    """The job-name Ground Truth wrote in the manifest's newest label metadata."""
    with store.open_input(key) as stream:
        head = stream.read(1 << 20).decode("utf-8", "replace")
    for raw in head.splitlines()[:1000]:
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        if isinstance(entry, dict):
            attribute = job_attribute([ManifestLine(1, entry)], "")
            if attribute.named_by_manifest:
                return attribute.named_by_manifest
    return None
