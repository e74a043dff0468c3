"""The table catalog: every lake table declared once.

ETL writes, the DuckDB views, Glue DDL, the portal's schema browser and the
docs are all generated from these declarations. Extend a table by adding
columns at the end; never fork it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from labellake.errors import NotFoundError

TIMESTAMP = pa.timestamp("us", tz="UTC")
STRING_MAP = pa.map_(pa.string(), pa.string())
POINTS = pa.list_(pa.struct([("x", pa.float64()), ("y", pa.float64())]))
RECONCILIATION = pa.list_(
    pa.struct(
        [
            ("file", pa.string()),
            ("seen", pa.int64()),
            ("written", pa.int64()),
            ("explained", pa.int64()),
        ]
    )
)


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    nullable: bool = True
    # The column's name in files written before it was renamed: read as this column.
    formerly: str | None = None

    @property
    def field(self) -> pa.Field:
        return pa.field(self.name, self.type, nullable=self.nullable)


@dataclass(frozen=True)
class Table:
    """One lake table: ``lake/<name>/<partition>=<value>/<unit>.parquet``."""

    name: str
    description: str
    unit: str
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [column.name for column in self.columns]
        assert len(names) == len(set(names)), f"{self.name}: duplicate column"
        assert set(self.partition_by) <= set(names), f"{self.name}: unknown partition column"

    @property
    def schema(self) -> pa.Schema:
        """The full schema, partition columns included, in declaration order."""
        return pa.schema([column.field for column in self.columns])

    @property
    def file_schema(self) -> pa.Schema:
        """The schema stored inside each Parquet file (partition columns live in the path)."""
        return pa.schema(
            [column.field for column in self.columns if column.name not in self.partition_by]
        )

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def empty(self) -> pa.Table:
        return self.schema.empty_table()


def _c(name: str, type_: pa.DataType, description: str, nullable: bool = True) -> Column:
    return Column(name, type_, description, nullable)


_JOB = _c("job_name", pa.string(), "Labeling job name (Ground Truth naming rule).", False)
_BATCH = _c("batch_id", pa.string(), "Workflow batch the job belongs to; null for imported jobs.")
_SOURCE_REF = _c(
    "source_ref",
    pa.string(),
    "Data object: the manifest's source-ref (sequence file or image URI).",
)

TABLES: tuple[Table, ...] = (
    Table(
        name="batches",
        description="One row per workflow batch.",
        unit="batch",
        columns=(
            _c("batch_id", pa.string(), "Batch id (Ground Truth naming rule).", False),
            _c(
                "status",
                pa.string(),
                "IN_PROGRESS, COMPLETE, VALIDATION_FAIL, INTERNAL_ERROR or STOPPED.",
            ),
            _c("created_at", TIMESTAMP, "When the batch was submitted."),
            _c("completed_at", TIMESTAMP, "When the batch reached a final status."),
            _c("level_count", pa.int32(), "Number of levels."),
            _c("job_count", pa.int32(), "Number of labeling jobs over all levels."),
            _c(
                "down_sampling_rate",
                pa.float64(),
                "Percent of data objects sent on to chained levels.",
            ),
            _c("message", pa.string(), "Error or status message."),
        ),
    ),
    Table(
        name="jobs",
        description="One row per labeling job.",
        unit="batch",
        columns=(
            _c("batch_id", pa.string(), "Batch the job belongs to.", False),
            _JOB,
            _c("level", pa.int32(), "Level in the batch, 1 for initial labeling."),
            _c(
                "modality",
                pa.string(),
                "Job modality, e.g. VideoObjectTracking or VideoObjectTrackingAudit.",
            ),
            _c("annotation_type", pa.string(), "Shape kind: box, polyline, polygon or keypoint."),
            _c("status", pa.string(), "Job status."),
            _c("workteam", pa.string(), "Work team ARN or name."),
            _c("chain_from", pa.string(), "Job whose output this job audits or adjusts."),
            _c(
                "label_attribute_name",
                pa.string(),
                "Attribute the job writes in the output manifest.",
            ),
            _c("input_manifest_uri", pa.string(), "Input manifest."),
            _c("output_manifest_uri", pa.string(), "Augmented output manifest."),
            _c("object_count", pa.int64(), "Data objects sent to the job."),
            _c("created_at", TIMESTAMP, "When the job was started."),
            _c("completed_at", TIMESTAMP, "When the job finished."),
            _c("backend", pa.string(), "Labeling backend that ran it: simulated or local."),
        ),
    ),
    Table(
        name="labels",
        description="One row per data object and label attribute of an augmented output "
        "manifest line.",
        unit="job",
        partition_by=("job_name",),
        columns=(
            _BATCH,
            _JOB,
            _SOURCE_REF,
            _c(
                "label_attribute",
                pa.string(),
                "Label attribute name (the key in the manifest line).",
            ),
            _c("ref", pa.string(), "URI of the SeqLabel file for -ref attributes."),
            _c("metadata_job_name", pa.string(), "job-name from the attribute's metadata."),
            _c(
                "type",
                pa.string(),
                "Task type from the metadata, e.g. groundtruth/video-object-tracking.",
            ),
            _c("class_map", STRING_MAP, "class-id to label name."),
            _c("human_annotated", pa.bool_(), "Whether a person labeled it."),
            _c("creation_date", TIMESTAMP, "creation-date from the metadata."),
            _c("adjustment_status", pa.string(), "adjusted or unadjusted, for audit jobs."),
            _c("line_no", pa.int64(), "Line in the output manifest, from 1."),
        ),
    ),
    Table(
        name="annotations",
        description="One row per shape on a frame.",
        unit="job",
        partition_by=("job_name",),
        columns=(
            _BATCH,
            _JOB,
            _SOURCE_REF,
            _c("frame_no", pa.int32(), "Frame index in the sequence, from 0."),
            _c("frame", pa.string(), "Frame file name."),
            _c("object_id", pa.string(), "Track id, stable across frames."),
            _c("object_name", pa.string(), "Display name, e.g. Vehicle:1."),
            _c("class_id", pa.int32(), "Class id in the job's class-map."),
            _c("label", pa.string(), "Class name resolved through the class-map."),
            _c("shape", pa.string(), "box, polyline, polygon or keypoint."),
            Column(
                "box_left",
                pa.float64(),
                "Box left edge in pixels (`left` in Ground Truth's SeqLabel files, `xtl` in "
                "CVAT, the first bbox value in COCO; named box_left because LEFT is an SQL "
                "keyword).",
                formerly="left",
            ),
            _c("top", pa.float64(), "Box top edge in pixels."),
            _c("width", pa.float64(), "Box width in pixels."),
            _c("height", pa.float64(), "Box height in pixels."),
            _c("points", POINTS, "Vertices of a polyline, polygon or keypoint."),
            _c("attributes", STRING_MAP, "Label-category attributes of the shape."),
            _c("frame_attributes", STRING_MAP, "Frame attributes."),
            _c("image_width", pa.int32(), "Frame width in pixels, where known."),
            _c("image_height", pa.int32(), "Frame height in pixels, where known."),
            _c("confidence", pa.float64(), "Confidence, where the output has one."),
            _c(
                "audit",
                pa.string(),
                "Auditor's verdict on the object (Pass or Fail), for audit jobs.",
            ),
            _c("occluded", pa.bool_(), "Whether the labeler marked the shape occluded (CVAT)."),
            _c(
                "keyframe",
                pa.bool_(),
                "Whether a person drew the shape on this frame (true) or the tool interpolated "
                "it between keyframes (false); null where the source format does not say.",
            ),
            _c("z_order", pa.int32(), "Drawing order among overlapping shapes (CVAT z_order)."),
        ),
    ),
    Table(
        name="worker_responses",
        description="One row per worker answer in a worker-response file.",
        unit="job",
        partition_by=("job_name",),
        columns=(
            _BATCH,
            _JOB,
            _SOURCE_REF,
            _c("data_object_id", pa.string(), "Data object index in the job."),
            _c("worker_id", pa.string(), "Worker id.", False),
            _c("sub", pa.string(), "Identity-provider subject of the worker."),
            _c("acceptance_time", TIMESTAMP, "When the worker accepted the task."),
            _c("submission_time", TIMESTAMP, "When the worker submitted the task."),
            _c("time_spent_s", pa.float64(), "Seconds spent on the task."),
            _c("response_uri", pa.string(), "The worker-response file."),
        ),
    ),
    Table(
        name="worker_events",
        description="One row per worker activity log event.",
        unit="job",
        partition_by=("job_name",),
        columns=(
            _JOB,
            _c("worker_id", pa.string(), "Worker id.", False),
            _c("cognito_user_pool_id", pa.string(), "Cognito user pool of the workforce."),
            _c("cognito_sub_id", pa.string(), "Cognito subject of the worker."),
            _c("workteam_arn", pa.string(), "Work team ARN."),
            _c("labeling_job_arn", pa.string(), "Labeling job ARN."),
            _c("work_requester_account_id", pa.string(), "Account that requested the work."),
            _c("job_reference_code", pa.string(), "Job reference code."),
            _c("job_type", pa.string(), "Private, Vendor or Public."),
            _c(
                "event_type",
                pa.string(),
                "TasksAccepted, TasksSubmitted, TasksReturned or TasksDeclined.",
            ),
            _c("event_time", TIMESTAMP, "When the event happened."),
            _c("task_accepted_time", TIMESTAMP, "When the task was accepted."),
            _c("task_submitted_time", TIMESTAMP, "When the task was submitted."),
            _c("task_returned_time", TIMESTAMP, "When the task was returned."),
            _c("task_declined_time", TIMESTAMP, "When the task was declined."),
        ),
    ),
    Table(
        name="qa_findings",
        description="One row per automated quality-check hit.",
        unit="job",
        partition_by=("job_name",),
        columns=(
            _BATCH,
            _JOB,
            _SOURCE_REF,
            _c("object_id", pa.string(), "Track the finding is about."),
            _c("frame_no", pa.int32(), "Frame the finding is on (the later frame of a pair)."),
            Column(
                "check_name",
                pa.string(),
                "Check name, e.g. size_jump or iou_drop (named check_name because CHECK is an "
                "SQL keyword).",
                False,
                formerly="check",
            ),
            _c("value", pa.float64(), "Measured value."),
            _c("threshold", pa.float64(), "Threshold the value crossed."),
            _c("detail", pa.string(), "Human-readable explanation."),
        ),
    ),
    Table(
        name="paragraphs",
        description="One row per document paragraph, or header/footer line by role.",
        unit="document",
        columns=(
            _c("doc_id", pa.string(), "Document id.", False),
            _c("page", pa.int32(), "Page number, from 1."),
            _c("paragraph_no", pa.int32(), "Paragraph index in the document, from 1."),
            _c(
                "role",
                pa.string(),
                "paragraph, title, section_header, page_header, page_footer, "
                "page_number, list, table or figure (text inside a figure: no sentiment).",
            ),
            _c("header", pa.string(), "Header the paragraph sits under."),
            _c("text", pa.string(), "Paragraph text."),
            _c("technique", pa.string(), "Segmentation technique that produced it."),
            _c("sentiment", pa.string(), "POSITIVE, NEGATIVE, NEUTRAL or MIXED."),
            _c("score_positive", pa.float64(), "Positive score."),
            _c("score_negative", pa.float64(), "Negative score."),
            _c("score_neutral", pa.float64(), "Neutral score."),
            _c("score_mixed", pa.float64(), "Mixed score."),
            Column(
                "box_left",
                pa.float64(),
                "Bounding box left, fraction of page width (Textract's BoundingBox.Left; named "
                "box_left because LEFT is an SQL keyword).",
                formerly="left",
            ),
            _c("top", pa.float64(), "Bounding box top, fraction of page height."),
            _c("width", pa.float64(), "Bounding box width, fraction of page width."),
            _c("height", pa.float64(), "Bounding box height, fraction of page height."),
            _c(
                "line_ids",
                pa.list_(pa.string()),
                "Ids of the LINE blocks in the row; every line of a document is in one row.",
            ),
        ),
    ),
    Table(
        name="documents",
        description="One row per ingested document: where it came from, how it was read "
        "and split, its overall sentiment, or why it could not be read.",
        unit="document",
        columns=(
            _c("doc_id", pa.string(), "Document id (from its file name).", False),
            _c("source", pa.string(), "File or URI the document was read from."),
            _c("fingerprint", pa.string(), "SHA-256 of the file; an unchanged file is skipped."),
            _c("status", pa.string(), "ok, or error when the document could not be read."),
            _c("error", pa.string(), "Why the document could not be read (status = error)."),
            _c("problems", pa.string(), "Non-fatal notes: empty pages, sentiment errors."),
            _c(
                "detection",
                pa.string(),
                "How text was found: local, textract, tesseract or "
                "textract_json (a Textract response given as input).",
            ),
            _c(
                "technique",
                pa.string(),
                "Segmentation technique asked for (paragraphs.technique says which ran).",
            ),
            _c("sentiment_backend", pa.string(), "vader or comprehend."),
            _c("pages", pa.int32(), "Pages."),
            _c("lines", pa.int32(), "LINE blocks detected."),
            _c("paragraphs", pa.int32(), "Rows written to paragraphs."),
            _c(
                "sentiment", pa.string(), "Overall sentiment: POSITIVE, NEGATIVE, NEUTRAL or MIXED."
            ),
            _c("score_positive", pa.float64(), "Overall positive score (length-weighted)."),
            _c("score_negative", pa.float64(), "Overall negative score."),
            _c("score_neutral", pa.float64(), "Overall neutral score."),
            _c("score_mixed", pa.float64(), "Overall mixed score."),
            _c("ingested_at", TIMESTAMP, "When the document was ingested."),
        ),
    ),
    Table(
        name="benchmark_results",
        description="One row per measured or published inference benchmark configuration.",
        unit="run",
        partition_by=("source",),
        columns=(
            _c("run_id", pa.string(), "Benchmark run id.", False),
            _c("source", pa.string(), "measured or published.", False),
            _c("model", pa.string(), "Model name."),
            _c("device", pa.string(), "Device or instance type."),
            _c("mode", pa.string(), "data_parallel, pipeline_parallel or intra_op."),
            _c("batch_size", pa.int32(), "Sentences per request."),
            _c("workers", pa.int32(), "Worker processes or cores per model."),
            _c("seq_len", pa.int32(), "Sequence length in tokens."),
            _c("throughput", pa.float64(), "Sentences per second."),
            _c("latency_p50", pa.float64(), "Median latency per request, seconds."),
            _c("latency_p95", pa.float64(), "95th-percentile latency per request, seconds."),
            _c("latency_p99", pa.float64(), "99th-percentile latency per request, seconds."),
            _c("price_per_hour", pa.float64(), "Price of the device per hour, USD."),
            _c(
                "cost_per_million",
                pa.float64(),
                "USD per 1M inferences; null when the price is unknown.",
            ),
            _c("measured_at", TIMESTAMP, "When the row was measured or published."),
            _c("environment", pa.string(), "Library versions and core count, as JSON."),
            _c("backend", pa.string(), "How it ran: eager, compile, onnxruntime; neuron or gpu."),
            _c("requests", pa.int64(), "Requests timed (after warm-up)."),
            _c("duration_s", pa.float64(), "Seconds of timed inference."),
            _c("warmup_s", pa.float64(), "Seconds the warm-up took (not in the figures)."),
            _c(
                "throughput_spread",
                pa.float64(),
                "Standard deviation of the throughput each request implies (worker processes x "
                "batch size / its latency), sentences/s.",
            ),
            _c(
                "overhead_share",
                pa.float64(),
                "Share of the timed loop the runner spent outside inference (timing, queueing).",
            ),
            _c("status", pa.string(), "complete, or stopped (what was measured before the stop)."),
            _c("precision", pa.string(), "fp32, bf16, fp16 or int8 (dynamic quantization)."),
            _c("runtime", pa.string(), "eager, compile or onnxruntime."),
            _c(
                "accuracy_mean_cosine",
                pa.float64(),
                "Mean cosine of this configuration's sentence embeddings to fp32 eager's, on "
                "the same 1,000 generated sentences.",
            ),
            _c("accuracy_worst_cosine", pa.float64(), "The lowest of those cosines."),
            _c("accuracy_sentences", pa.int32(), "Sentences the accuracy was measured on."),
            _c("accuracy_ok", pa.bool_(), "Whether the mean cosine is 0.99 or more."),
            _c("reference", pa.string(), "Where a published row comes from."),
        ),
    ),
    Table(
        name="annotation_stats",
        description="Per-job summaries of `annotations`, written by the ETL so dashboards "
        "stay fast on large lakes.",
        unit="job",
        columns=(
            _JOB,
            _BATCH,
            _c(
                "stat",
                pa.string(),
                "class (per label and shape), box_size (a size bin) or "
                "track_length (a length bin).",
                False,
            ),
            _c("label", pa.string(), "Class label (stat = class, box_size, track_length)."),
            _c("shape", pa.string(), "Shape kind (stat = class, box_size)."),
            _c(
                "bucket",
                pa.float64(),
                "Bin: box size in px (sqrt of area, 10 px bins) or frames per track.",
            ),
            _c("shapes", pa.int64(), "Shapes (class) or boxes in the bin (box_size)."),
            _c("tracks", pa.int64(), "Tracks (class) or tracks in the bin (track_length)."),
            _c("frames", pa.int64(), "Frames with at least one shape (class, data_object)."),
            _c(
                "source_ref",
                pa.string(),
                "Data object (stat = data_object: its shapes, tracks and frames).",
            ),
        ),
    ),
    Table(
        name="audit_stats",
        description="Per data object of an audit (or any chained) job: how its objects compare "
        "with those of the job it audits. Written by the ETL so worker dashboards stay fast.",
        unit="job",
        columns=(
            _c("job_name", pa.string(), "The audit job.", False),
            _BATCH,
            _c("audited_job", pa.string(), "The job whose work was audited (chained from).", False),
            _c("source_ref", pa.string(), "Data object the audit job saw.", False),
            _c("objects_audited", pa.int64(), "Objects of the audited job on this data object."),
            _c(
                "objects_unchanged",
                pa.int64(),
                "Of those, objects the auditor kept on every frame with box IoU >= 0.99 and "
                "did not fail.",
            ),
            _c(
                "objects_compared",
                pa.int64(),
                "Boxes in both versions on at least one frame (the denominator of the mean "
                "IoU shift).",
            ),
            _c(
                "iou_shift_sum",
                pa.float64(),
                "Sum over compared boxes of 1 - their mean IoU; divide by objects_compared "
                "for the mean shift.",
            ),
            _c("objects_added", pa.int64(), "Objects only the auditor drew."),
            _c("objects_deleted", pa.int64(), "Objects of the audited job the auditor removed."),
            _c("objects_passed", pa.int64(), "Audited objects the auditor marked Pass."),
            _c("objects_failed", pa.int64(), "Audited objects the auditor marked Fail."),
        ),
    ),
    Table(
        name="etl_loads",
        description="One row per labeling job loaded into the lake, with what it produced.",
        unit="job",
        columns=(
            _JOB,
            _BATCH,
            _c("source", pa.string(), "Output manifest the job was loaded from."),
            _c(
                "audits",
                pa.string(),
                "The job this one audits (chained from), compared in audit_stats; null for a "
                "first-level job.",
            ),
            _c("fingerprint", pa.string(), "Hash of that manifest; a changed one is reloaded."),
            _c("loaded_at", TIMESTAMP, "When the load ran."),
            _c("labels", pa.int64(), "Rows written to labels."),
            _c("annotations", pa.int64(), "Rows written to annotations."),
            _c("worker_responses", pa.int64(), "Rows written to worker_responses."),
            _c("worker_events", pa.int64(), "Rows written to worker_events."),
            _c("qa_findings", pa.int64(), "Rows written to qa_findings."),
            _c("errors", pa.int64(), "Rows written to etl_errors."),
            _c("annotation_stats", pa.int64(), "Rows written to annotation_stats."),
            _c("audit_stats", pa.int64(), "Rows written to audit_stats."),
            _c(
                "source_format",
                pa.string(),
                "Format the job was read from: groundtruth, cvat-video, cvat-images, "
                "labelstudio or coco.",
            ),
            _c("shapes_seen", pa.int64(), "Shapes found in the job's input files."),
            _c(
                "shapes_explained",
                pa.int64(),
                "Shapes seen and not written, each accounted for by an etl_errors row.",
            ),
            _c(
                "files",
                RECONCILIATION,
                "Per input file: shapes seen, rows written to annotations, and shapes "
                "explained in etl_errors; seen = written + explained when nothing was lost.",
            ),
        ),
    ),
    Table(
        name="etl_errors",
        description="One row per input the ETL could not load (the rest of the job still loads).",
        unit="job",
        columns=(
            _JOB,
            _c("file", pa.string(), "File or URI that could not be loaded."),
            _c("line", pa.int64(), "Line in that file, from 1, where known."),
            _c("reason", pa.string(), "What was wrong."),
            _c("loaded_at", TIMESTAMP, "When the load ran."),
            _c(
                "shapes",
                pa.int64(),
                "Shapes of the input that this row accounts for: seen and not written.",
            ),
        ),
    ),
    Table(
        name="audit_routing",
        description="One row per object of an audited job: the probability it had of being "
        "audited, whether it was, and what the auditor found. Written when the audit job "
        "starts and again, with the verdicts, when it completes.",
        unit="job",
        columns=(
            _c("job_name", pa.string(), "The audit job.", False),
            _BATCH,
            _c("audited_job", pa.string(), "The job whose objects were routed.", False),
            _SOURCE_REF,
            _c("object_id", pa.string(), "Track id in the audited job."),
            _c("worker_id", pa.string(), "Worker who labeled the object."),
            _c(
                "mode",
                pa.string(),
                "How objects were chosen: risk or findings (one by one, the highest risk or "
                "most QA findings first, up to an audit budget, with a random share), flagged "
                "(whole data objects QA flagged), sampling (downSamplingRate) or all.",
            ),
            _c(
                "risk",
                pa.float64(),
                "Predicted probability that an auditor fails the object (mode risk).",
            ),
            _c(
                "risk_source",
                pa.string(),
                "What gave the risk: the audit-risk model's run id, or 'prior' before any "
                "model was trained.",
            ),
            _c(
                "probability",
                pa.float64(),
                "Probability the object had of being audited (0 where it could not be).",
            ),
            _c("routed", pa.bool_(), "Whether the object went to the audit."),
            _c(
                "failed",
                pa.bool_(),
                "The auditor's verdict: failed (Fail, or removed); null until the audit "
                "completes, and for objects not routed.",
            ),
            _c(
                "error_type",
                pa.string(),
                "What the auditor changed on a failed object: spurious (removed), label, "
                "attribute or geometry.",
            ),
        ),
    ),
    Table(
        name="dataset_quality",
        description="One row per audited job of a batch: the errors left in what ships, "
        "estimated from the audited sample and its audit probabilities, with a 90% bound.",
        unit="job",
        columns=(
            _BATCH,
            _c("job_name", pa.string(), "The audit job.", False),
            _c("audited_job", pa.string(), "The job whose labels ship.", False),
            _c("mode", pa.string(), "How the audited objects were chosen (audit_routing.mode)."),
            _c("objects", pa.int64(), "Objects of the audited job (what ships)."),
            _c("audited", pa.int64(), "Of those, objects in the probability sample."),
            _c("errors_found", pa.int64(), "Sampled objects the auditor failed (and fixed)."),
            _c("residual_errors", pa.float64(), "Estimated errors left in unaudited objects."),
            _c("residual_rate", pa.float64(), "residual_errors / objects."),
            _c(
                "upper_rate",
                pa.float64(),
                "One-sided 90% upper bound of the residual error rate; null where some objects "
                "had no chance of audit (mode flagged).",
            ),
            _c("method", pa.string(), "The estimator, in words."),
            _c("as_of", TIMESTAMP, "When it was computed (the audit job's completion)."),
        ),
    ),
    Table(
        name="worker_reliability",
        description="Each worker's error rate per error type with a 90% interval (Beta-"
        "binomial, empirical-Bayes prior), as of each audit, gold-scored job or consensus "
        "that added evidence.",
        unit="job",
        columns=(
            _c("job_name", pa.string(), "The job whose completion refreshed it.", False),
            _c("worker_id", pa.string(), "Worker.", False),
            _c(
                "error_type",
                pa.string(),
                "any (an audited object failed), spurious, label, attribute or geometry "
                "(what the auditor changed), gold (known objects missed or mixed up on gold "
                "clips: 1 - IDF1) or consensus (against the majority of a consensus).",
            ),
            _c("estimate", pa.float64(), "Posterior mean of the error rate."),
            _c("lower", pa.float64(), "5th percentile of the posterior."),
            _c("upper", pa.float64(), "95th percentile of the posterior."),
            _c(
                "evidence",
                pa.int64(),
                "Audited objects of the worker behind it (weighted to the whole by the "
                "audit probabilities).",
            ),
            _c("errors", pa.float64(), "Errors of that type, weighted the same way."),
            _c(
                "drift",
                pa.bool_(),
                "The interval no longer overlaps the previous one and the estimate moved by "
                "more than 0.05.",
            ),
            _c("as_of", TIMESTAMP, "When it was computed."),
        ),
    ),
    Table(
        name="consensus_objects",
        description="One row per object k workers drew on a data object of a consensus job "
        "(consensusCount): its consolidated track and how much the workers agreed on it.",
        unit="job",
        columns=(
            _BATCH,
            _c("job_name", pa.string(), "The consensus job.", False),
            _SOURCE_REF,
            _c(
                "object_id",
                pa.string(),
                "Object id in the consolidated answer; null where too few workers drew it "
                "to keep it.",
            ),
            _c("label", pa.string(), "Majority label of the matched tracks."),
            _c("workers", pa.int64(), "Workers who labeled the data object (k)."),
            _c("drawn_by", pa.list_(pa.string()), "Workers who drew this object."),
            _c(
                "agreement",
                pa.float64(),
                "Mean sequence IoU over every pair of the k workers (0 for a pair where one "
                "did not draw it).",
            ),
            _c("label_agreement", pa.float64(), "Share of the k workers with the majority label."),
            _c("frames", pa.int64(), "Frames of the consolidated track."),
            _c("kept", pa.bool_(), "In the consolidated answer: drawn by at least half the k."),
        ),
    ),
    Table(
        name="consensus_agreement",
        description="One row per pair of workers on a data object of a consensus job: how "
        "much their tracks agreed.",
        unit="job",
        columns=(
            _BATCH,
            _c("job_name", pa.string(), "The consensus job.", False),
            _SOURCE_REF,
            _c("worker_a", pa.string(), "One worker of the pair."),
            _c("worker_b", pa.string(), "The other."),
            _c("objects", pa.int64(), "Objects either of them drew."),
            _c(
                "agreement",
                pa.float64(),
                "Mean over those objects of their tracks' sequence IoU (0 where one did not "
                "draw it).",
            ),
        ),
    ),
    Table(
        name="gold_scores",
        description="Per labeling job with gold clips (goldRate), per worker and for the job "
        "as a whole: the worker's tracks on the gold clips scored against the known ones.",
        unit="job",
        columns=(
            _BATCH,
            _JOB,
            _c("worker_id", pa.string(), "Worker; null for the job's gold clips together."),
            _c("clips", pa.int64(), "Gold clips scored."),
            _c("frames", pa.int64(), "Their frames."),
            _c("gold_objects", pa.int64(), "Known tracks on them."),
            _c("idf1", pa.float64(), "Identity F1 (IoU 0.5)."),
            _c("mota", pa.float64(), "Multi-object tracking accuracy (CLEAR MOT)."),
            _c("hota", pa.float64(), "Higher-order tracking accuracy."),
            _c("deta", pa.float64(), "HOTA's detection part."),
            _c("assa", pa.float64(), "HOTA's association part."),
            _c("id_switches", pa.int64(), "ID switches."),
            _c("false_positives", pa.int64(), "Boxes matching no known one."),
            _c("misses", pa.int64(), "Known boxes no worker box matched."),
            _c("box_iou", pa.float64(), "Mean box IoU of tracks matched to known ones."),
            _c(
                "attribute_accuracy",
                pa.float64(),
                "Share of known attribute values the matched tracks got right.",
            ),
        ),
    ),
)

_BY_NAME = {table.name: table for table in TABLES}


def table_names() -> list[str]:
    return [table.name for table in TABLES]


def get_table(name: str) -> Table:
    """The declaration of ``name``; NotFoundError listing the known tables otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise NotFoundError(
            f"unknown table '{name}'; known tables: {', '.join(_BY_NAME)}"
        ) from None
