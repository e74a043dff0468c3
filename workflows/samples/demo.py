"""The reference batch: vehicle boxes and lane polylines at level 1, their audits at level 2."""

from __future__ import annotations

from typing import Any

from labellake.workflows.labeling.state import StateStore
from labellake.workflows.samples.synthetic import SampleSet


def demo_request(batch_id: str, samples: SampleSet, audit_sampling: float = 100) -> dict[str, Any]:
    return {
        "batchId": batch_id,
        "labelingJobs": [
            {
                "jobName": f"{batch_id}-vehicle",
                "jobType": "BATCH",
                "jobModality": "VideoObjectTracking",
                "jobLevel": 1,
                "labelCategoryConfigS3Uri": samples.vehicle_config_uri,
                "inputConfig": {"inputManifestS3Uri": samples.manifest_uri},
            },
            {
                "jobName": f"{batch_id}-lane",
                "jobType": "BATCH",
                "jobModality": "VideoObjectTracking",
                "jobLevel": 1,
                "labelCategoryConfigS3Uri": samples.lane_config_uri,
                "inputConfig": {"inputManifestS3Uri": samples.manifest_uri},
            },
            {
                "jobName": f"{batch_id}-vehicle-audit",
                "jobType": "BATCH",
                "jobModality": "VideoObjectTrackingAudit",
                "jobLevel": 2,
                "inputConfig": {
                    "chainFromJobName": f"{batch_id}-vehicle",
                    "downSamplingRate": audit_sampling,
                },
            },
            {
                "jobName": f"{batch_id}-lane-audit",
                "jobType": "BATCH",
                "jobModality": "VideoObjectTrackingAudit",
                "jobLevel": 2,
                "inputConfig": {
                    "chainFromJobName": f"{batch_id}-lane",
                    "downSamplingRate": audit_sampling,
                },
            },
        ],
    }


def free_demo_id(state: StateStore) -> str:
    """demo1, demo2, ...: the first id no batch has used."""
    number = 1
    while state.names_taken([f"demo{number}"]):
        number += 1
    return f"demo{number}"
