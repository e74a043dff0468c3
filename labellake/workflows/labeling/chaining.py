"""What a chained job sees of its parent's work: the parent's output lines after the QA
filter and the seeded downsampling (the post-processing between levels), and the label
config of an audit or adjustment of it."""

from __future__ import annotations

import json
import math
import random
from typing import TYPE_CHECKING, Any

from labellake.errors import LabellakeError
from labellake.workflows.labeling import formats
from labellake.workflows.labeling.spec import LabelingJobSpec, is_audit

if TYPE_CHECKING:
    from labellake.workflows.labeling.engine import Engine


def chained_config(
    config: dict[str, Any], parent: dict[str, Any], job: dict[str, Any]
) -> dict[str, Any]:
    if is_audit(job["modality"]):
        return formats.audit_config(config, parent["label_attribute_name"])
    return {**config, "auditLabelAttributeName": parent["label_attribute_name"]}


def chained_input(
    engine: Engine,
    batch: dict[str, Any],
    job: dict[str, Any],
    parent: dict[str, Any],
    spec: LabelingJobSpec,
) -> tuple[list[dict[str, Any]], str | None]:
    """The parent's output lines after the QA filter and downsampling."""
    lines = formats.parse_manifest(
        engine.read(parent["output_manifest_uri"]), parent["output_manifest_uri"]
    )
    gold = gold_of(engine, parent)
    lines = [line for line in lines if formats.data_object(line) not in gold]
    if not lines:
        return [], f"the parent job {parent['job_name']} produced no output"
    qa = spec.input_config.qa_filter
    mode = "all"
    if qa is not None:
        if engine.qa_filter is None:
            raise LabellakeError(
                f"job {job['job_name']}: inputConfig.qaFilter is set but no QA checks are "
                "installed in this engine"
            )
        lines = engine.qa_filter(parent, job, lines, qa)
        if not lines:
            if qa.mode == "consensus":
                return [], "the parent job's workers agreed on every object"
            if qa.budgeted:
                return [], f"{qa.mode} routing chose no object of the parent job"
            return [], "the QA checks flagged no data object of the parent job"
        if qa.per_object:  # the filter chose objects and recorded why: no downsampling
            return lines, None
        mode = "flagged"
    rate = job["down_sampling_rate"]
    if rate is None:
        rate = batch["down_sampling_rate"]
    if rate < 100:
        lines = sample(lines, rate, job, engine.config.seed)
        mode = "sampling" if mode == "all" else mode
    if engine.on_routed is not None:
        engine.on_routed(parent, job, lines, mode, rate / 100)
    if not lines:
        return [], f"downsampling at {rate:g}% kept none of the data objects"
    return lines, None


GOLD_FILE = "gold.json"  # under a job's processing prefix: {source-ref: gold-ref}


def gold_of(engine: Engine, job: dict[str, Any]) -> dict[str, str]:
    """The gold clips mixed into a job (source-ref -> gold-ref); none for most jobs."""
    key = f"{engine.processing_prefix(job)}/{GOLD_FILE}"
    return json.loads(engine.objects.read_text(key)) if engine.objects.exists(key) else {}


def with_gold(
    engine: Engine,
    batch: dict[str, Any],
    job: dict[str, Any],
    lines: list[dict[str, Any]],
    rate: float,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The job's lines with gold clips mixed in at ``rate`` (their share of all tasks),
    unmarked and in a seeded order, and which lines are gold (source-ref -> gold-ref)."""
    uri = json.loads(batch["request"]).get("goldManifestS3Uri")
    if not uri or rate <= 0 or not lines:
        return lines, {}
    own = {formats.data_object(line) for line in lines}
    gold = [g for g in formats.parse_manifest(engine.read(uri), uri) if g["source-ref"] not in own]
    wanted = len(gold) if rate >= 1 else math.ceil(rate * len(lines) / (1 - rate))
    rng = random.Random(f"{engine.config.seed}:gold:{job['batch_id']}:{job['job_name']}".lower())
    chosen = rng.sample(gold, min(wanted, len(gold)))
    mixed = [*lines, *({"source-ref": g["source-ref"]} for g in chosen)]
    rng.shuffle(mixed)
    return mixed, {g["source-ref"]: g["gold-ref"] for g in chosen}


def sample(
    lines: list[dict[str, Any]], rate: float, job: dict[str, Any], seed: int
) -> list[dict[str, Any]]:
    """A seeded random ``rate`` percent of the lines, in their original order."""
    keep = round(len(lines) * rate / 100)
    rng = random.Random(f"{seed}:{job['batch_id']}:{job['job_name']}".lower())
    chosen = sorted(rng.sample(range(len(lines)), keep))
    return [lines[i] for i in chosen]
