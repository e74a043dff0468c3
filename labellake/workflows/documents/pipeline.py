"""Ingesting documents: detect text, split it into rows, score their sentiment, and
write `documents` and `paragraphs`, one unit per document.

A document that cannot be read (encrypted, damaged, a scan with no OCR, a Textract
response with no lines) gets a `documents` row with status `error` and the reason;
the other documents go on. An unchanged file ingested again with the same technique
and sentiment backend is skipped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import posixpath
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from labellake.aws_clients import AwsTarget, store_options
from labellake.errors import LabellakeError
from labellake.etl import paragraphs, textract
from labellake.lake import Lake, ObjectStore, get_table
from labellake.workflows.documents import detection, sentiment

INBOX = "documents/inbox"
SUFFIXES = (".pdf", ".json", *detection.IMAGE_SUFFIXES)
DETECTIONS = ("auto", "local", "tesseract", "textract")
SENTIMENTS = tuple(sentiment.BACKENDS)
SCORED_ROLES = ("paragraph", "list", "table")  # headers and page furniture carry no opinion


@dataclass
class Source:
    """One document to ingest: where it is, and the id its rows get."""

    uri: str
    store: ObjectStore
    key: str
    doc_id: str = ""


@dataclass
class Outcome:
    doc_id: str
    source: str
    status: str  # ok, error or skipped
    error: str | None = None
    paragraphs: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class Options:
    technique: str = "auto"
    sentiment: str = "vader"
    detection: str = "auto"
    force: bool = False
    aws: AwsTarget | None = None
    textract: Any = None  # a boto3 Textract client (detection textract)
    comprehend: Any = None  # a boto3 Comprehend client (sentiment comprehend)
    poll_s: float = 5.0

    def check(self) -> None:
        if self.technique not in paragraphs.TECHNIQUES:
            raise LabellakeError(
                f"--technique {self.technique}: use one of {', '.join(paragraphs.TECHNIQUES)}"
            )
        if self.sentiment not in SENTIMENTS:
            raise LabellakeError(
                f"--sentiment {self.sentiment}: use one of {', '.join(SENTIMENTS)}"
            )
        if self.detection not in DETECTIONS:
            raise LabellakeError(
                f"--detection {self.detection}: use one of {', '.join(DETECTIONS)}"
            )


def doc_id_for(key: str) -> str:
    """A document id from a file name: lower case, safe characters.

    >>> doc_id_for("reviews/Camera Review (2).pdf")
    'camera-review-2'
    """
    stem = posixpath.basename(key).rsplit(".", 1)[0]
    slug = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-.")
    return slug or "document"


def find_sources(targets: Iterable[str], aws: AwsTarget | None = None) -> list[Source]:
    """Every PDF or Textract JSON named by ``targets``: files, folders or s3:// prefixes.
    Two files with the same name get ids told apart by a hash of their location."""
    where = store_options(aws)
    sources: list[Source] = []
    for target in targets:
        store = ObjectStore.from_uri(target, **where)
        is_file = store.is_local and store.filesystem.get_file_info(store.root).is_file
        if is_file or (not store.is_local and target.lower().endswith(SUFFIXES)):
            parent, _, name = target.rstrip("/").rpartition("/")
            folder = ObjectStore.from_uri(parent or ".", **where)
            sources.append(Source(folder.uri(name), folder, name))
            continue
        keys = [k for k in store.list() if k.lower().endswith(SUFFIXES)]
        if not keys:
            raise LabellakeError(
                f"{target}: no documents there (looked for {', '.join('*' + x for x in SUFFIXES)})"
            )
        sources += [Source(store.uri(k), store, k) for k in keys]
    bases = [doc_id_for(source.key) for source in sources]
    seen = Counter(bases)
    for source, base in zip(sources, bases, strict=True):
        suffix = hashlib.sha1(source.uri.encode()).hexdigest()[:6]
        source.doc_id = base if seen[base] == 1 else f"{base}-{suffix}"
    return sources


def ingest(
    sources: list[Source],
    lake: Lake,
    options: Options,
    progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Ingest every source; one document's failure never stops the others."""
    options.check()
    outcomes = []
    for source in sources:
        outcome = ingest_one(source, lake, options)
        outcomes.append(outcome)
        if progress:
            progress(outcome)
    return outcomes


def ingest_one(source: Source, lake: Lake, options: Options) -> Outcome:
    try:
        data = source.store.read_bytes(source.key)
    except (LabellakeError, OSError) as exc:
        return _failed(lake, source, None, options, f"cannot read: {exc}")
    fingerprint = hashlib.sha256(data).hexdigest()
    if not options.force and _unchanged(lake, source.doc_id, fingerprint, options):
        return Outcome(source.doc_id, source.uri, "skipped")
    try:
        detected = detect(source, data, options)
        lines = textract.read_lines(detected.responses)
        segments = paragraphs.segment(lines, options.technique)
    except textract.DocumentError as exc:
        return _failed(lake, source, fingerprint, options, str(exc))
    problems = list(detected.problems)
    technique, fell_back = paragraphs.used(lines, options.technique)
    if fell_back:
        problems.append(fell_back)
    scored_at = [i for i, s in enumerate(segments) if s.role in SCORED_ROLES and s.text]
    scored = score([segments[i].text for i in scored_at], options)
    results: list[dict[str, Any] | None] = [None] * len(segments)
    for position, index in enumerate(scored_at):
        results[index] = scored.results[position]
    for position, reason in sorted(scored.errors.items()):
        problems.append(f"paragraph {scored_at[position] + 1}: sentiment failed ({reason})")
    rows = paragraphs.paragraphs_table(source.doc_id, segments, technique, results)
    overall = overall_sentiment(
        [(segments[i].text, results[i]) for i in scored_at if results[i] is not None]
    )
    lake.write("paragraphs", source.doc_id, rows)
    lake.write(
        "documents",
        source.doc_id,
        _document_row(
            source,
            fingerprint,
            options,
            status="ok",
            detection=detected.detection,
            pages=detected.pages,
            lines=len(lines),
            paragraphs=rows.num_rows,
            problems=problems,
            overall=overall,
        ),
    )
    return Outcome(source.doc_id, source.uri, "ok", paragraphs=rows.num_rows, problems=problems)


def detect(source: Source, data: bytes, options: Options) -> detection.Detected:
    name = source.uri
    if source.key.lower().endswith(".json"):
        return detection.from_json(data, name)
    if options.detection == "textract":
        if options.textract is None:
            raise LabellakeError("--detection textract needs AWS (a Textract client)")
        if source.store.is_local:
            raise textract.DocumentError(
                f"{name}: Textract reads documents from S3; put it under an s3:// prefix"
            )
        bucket, _, key = source.uri.removeprefix("s3://").partition("/")
        return detection.from_textract(options.textract, bucket, key, poll_s=options.poll_s)
    if options.detection == "tesseract" or source.key.lower().endswith(detection.IMAGE_SUFFIXES):
        if options.detection == "local":
            raise textract.DocumentError(f"{name}: an image needs OCR; --detection local has none")
        return detection.from_scan(data, name)
    return detection.from_pdf(data, name, ocr=options.detection == "auto")


def score(texts: list[str], options: Options) -> sentiment.Scored:
    if not texts:
        return sentiment.Scored([])
    if options.sentiment == "comprehend":
        if options.comprehend is None:
            raise LabellakeError("--sentiment comprehend needs AWS (a Comprehend client)")
        return sentiment.comprehend(options.comprehend, texts)
    return sentiment.vader(texts)


# A side wins the document when its length-weighted score leads the other's by this much
# (VADER's own +-0.05 threshold for a paragraph's compound score).
WIN_MARGIN = 0.05


def overall_sentiment(scored: list[tuple[str, dict[str, Any]]]) -> dict[str, Any] | None:
    """The document's sentiment from its paragraphs' scores, each weighing by its length.

    The scores are the paragraphs' four scores averaged by length; the label follows from
    them, so that it agrees with the scores shown beside it:
    - MIXED when the weighted Positive and Negative are both at least ``MIXED_SHARE``
      (0.12, the paragraph rule's share);
    - else POSITIVE (NEGATIVE) when the weighted Positive (Negative) leads the other by at
      least ``WIN_MARGIN`` (0.05);
    - else NEUTRAL.
    """
    if not scored:
        return None
    weights = [max(1, len(text)) for text, _ in scored]
    total = sum(weights)
    scores = {
        name: sum(w * r["scores"][name] for w, (_, r) in zip(weights, scored, strict=True)) / total
        for name in sentiment.SCORES
    }
    return {"sentiment": document_label(scores), "scores": scores}


def document_label(scores: dict[str, float]) -> str:
    """The label of a document's length-weighted scores (``overall_sentiment``)."""
    positive, negative = scores["Positive"], scores["Negative"]
    if min(positive, negative) >= sentiment.MIXED_SHARE:
        return "MIXED"
    if positive - negative >= WIN_MARGIN:
        return "POSITIVE"
    if negative - positive >= WIN_MARGIN:
        return "NEGATIVE"
    return "NEUTRAL"


def _unchanged(lake: Lake, doc_id: str, fingerprint: str, options: Options) -> bool:
    """Whether the document was read from this very file, the same way, without error."""
    return any(
        (row["fingerprint"], row["status"], row["technique"], row["sentiment_backend"])
        == (fingerprint, "ok", options.technique, options.sentiment)
        for row in lake.read_unit("documents", doc_id).to_pylist()
    )


def _failed(
    lake: Lake, source: Source, fingerprint: str | None, options: Options, reason: str
) -> Outcome:
    # The tables agree: no paragraphs are left from an earlier reading of the document.
    lake.write("paragraphs", source.doc_id, get_table("paragraphs").empty())
    lake.write(
        "documents",
        source.doc_id,
        _document_row(source, fingerprint, options, status="error", error=reason),
    )
    return Outcome(source.doc_id, source.uri, "error", error=reason)


def _document_row(
    source: Source,
    fingerprint: str | None,
    options: Options,
    *,
    status: str,
    error: str | None = None,
    detection: str | None = None,
    pages: int | None = None,
    lines: int | None = None,
    paragraphs: int | None = None,
    problems: list[str] | None = None,
    overall: dict[str, Any] | None = None,
) -> pa.Table:
    scores = (overall or {}).get("scores") or {}
    row = {
        "doc_id": source.doc_id,
        "source": source.uri,
        "fingerprint": fingerprint,
        "status": status,
        "error": error,
        "problems": "; ".join(problems) if problems else None,
        "detection": detection,
        "technique": options.technique,
        "sentiment_backend": options.sentiment,
        "pages": pages,
        "lines": lines,
        "paragraphs": paragraphs,
        "sentiment": (overall or {}).get("sentiment"),
        "score_positive": scores.get("Positive"),
        "score_negative": scores.get("Negative"),
        "score_neutral": scores.get("Neutral"),
        "score_mixed": scores.get("Mixed"),
        "ingested_at": dt.datetime.now(dt.UTC),
    }
    return pa.Table.from_pylist([row], schema=get_table("documents").schema)


def watch(
    objects: ObjectStore,
    lake: Lake,
    options: Options,
    *,
    interval_s: float = 2.0,
    stop: Callable[[], bool] = lambda: False,
    progress: Callable[[Outcome], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Ingest what lands in objects/documents/inbox until ``stop()``; returns the count
    of documents ingested (skips not counted). Unchanged files are skipped by their
    fingerprint, so a file is read again only when it changes."""
    objects.ensure_root()
    inbox = ObjectStore.from_uri(objects.uri(INBOX), **store_options(options.aws))
    done = 0
    while not stop():
        keys = [k for k in inbox.list() if k.lower().endswith(SUFFIXES)]
        if keys:
            found = find_sources([inbox.root_uri], options.aws)
            for outcome in ingest(found, lake, options, progress):
                done += outcome.status != "skipped"
        sleep(interval_s)
    return done
