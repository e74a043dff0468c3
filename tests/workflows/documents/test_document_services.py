"""Textract and Comprehend requests, checked against the service models with Stubber."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from labellake.etl import textract
from labellake.etl.textract import DocumentError
from labellake.workflows.documents import detection, sentiment

EXAMPLES = Path(__file__).parents[2] / "fixtures/examples"


def client(service: str):  # type: ignore[no-untyped-def]
    return boto3.client(service, region_name="us-east-1", endpoint_url="http://127.0.0.1:9")


def page(blocks: list[dict], token: str | None = None, status: str = "SUCCEEDED") -> dict:
    answer = {"JobStatus": status, "DocumentMetadata": {"Pages": 2}, "Blocks": blocks}
    if token:
        answer["NextToken"] = token
    return answer


def test_textract_is_polled_then_paged_to_the_end() -> None:
    example = json.loads((EXAMPLES / "textract-detect-text.json").read_text())["Blocks"]
    second = [dict(b, Id=f"p2-{b['Id']}", Page=2) for b in example if b["BlockType"] == "LINE"]
    service = client("textract")
    with Stubber(service) as stub:
        stub.add_response(
            "start_document_text_detection",
            {"JobId": "job-1"},
            {"DocumentLocation": {"S3Object": {"Bucket": "docs", "Name": "in/review.pdf"}}},
        )
        stub.add_response(
            "get_document_text_detection",
            {"JobStatus": "IN_PROGRESS"},
            {"JobId": "job-1", "MaxResults": 1000},
        )
        stub.add_response(
            "get_document_text_detection",
            page(example, "t2"),
            {"JobId": "job-1", "MaxResults": 1000},
        )
        stub.add_response(
            "get_document_text_detection",
            page(second),
            {"JobId": "job-1", "MaxResults": 1000, "NextToken": "t2"},
        )
        found = detection.from_textract(service, "docs", "in/review.pdf", sleep=lambda _: None)
        stub.assert_no_pending_responses()
    assert found.pages == 2 and found.detection == "textract" and len(found.responses) == 2
    lines = textract.read_lines(found.responses)
    assert [ln.page for ln in lines] == [1, 1, 1, 2, 2, 2]


def test_a_failed_textract_job_is_a_document_error() -> None:
    service = client("textract")
    with Stubber(service) as stub:
        stub.add_response("start_document_text_detection", {"JobId": "job-2"})
        stub.add_response(
            "get_document_text_detection",
            {"JobStatus": "FAILED", "StatusMessage": "Unsupported document format"},
        )
        with pytest.raises(DocumentError, match="Textract failed: Unsupported document format"):
            detection.from_textract(service, "docs", "in/x.pdf", sleep=lambda _: None)


def scores(positive: float, negative: float) -> dict:
    rest = max(0.0, 1 - positive - negative)
    return {"Positive": positive, "Negative": negative, "Neutral": rest, "Mixed": 0.0}


def test_comprehend_batches_of_25_split_long_texts_and_retry_errors() -> None:
    texts = [f"Review number {i} was fine." for i in range(26)]
    long_text = " ".join(["The lens is sharp and the colours are lovely."] * 150)  # ~6.9 KB
    texts.append(long_text)
    parts = sentiment.chunks(long_text)
    assert len(parts) == 2 and all(len(p.encode()) <= 5000 for p in parts)
    comprehend = client("comprehend")
    with Stubber(comprehend) as stub:
        first = texts[:25]
        stub.add_response(
            "batch_detect_sentiment",
            {
                "ResultList": [
                    {"Index": i, "Sentiment": "POSITIVE", "SentimentScore": scores(0.9, 0.0)}
                    for i in range(25)
                    if i != 3
                ],
                "ErrorList": [
                    {"Index": 3, "ErrorCode": "INTERNAL_SERVER_ERROR", "ErrorMessage": "try again"}
                ],
            },
            {"TextList": first, "LanguageCode": "en"},
        )
        stub.add_response(
            "batch_detect_sentiment",
            {
                "ResultList": [
                    {"Index": 0, "Sentiment": "NEUTRAL", "SentimentScore": scores(0.1, 0.0)},
                    {"Index": 1, "Sentiment": "POSITIVE", "SentimentScore": scores(0.8, 0.0)},
                ],
                "ErrorList": [
                    {"Index": 2, "ErrorCode": "TEXT_SIZE_LIMIT_EXCEEDED", "ErrorMessage": "big"}
                ],
            },
            {"TextList": [texts[25], *parts], "LanguageCode": "en"},
        )
        # The two failures are sent once more: one succeeds, one fails again.
        stub.add_response(
            "batch_detect_sentiment",
            {
                "ResultList": [
                    {"Index": 0, "Sentiment": "NEGATIVE", "SentimentScore": scores(0.0, 0.7)}
                ],
                "ErrorList": [
                    {"Index": 1, "ErrorCode": "TEXT_SIZE_LIMIT_EXCEEDED", "ErrorMessage": "big"}
                ],
            },
            {"TextList": [texts[3], parts[1]], "LanguageCode": "en"},
        )
        scored = sentiment.comprehend(comprehend, texts)
        stub.assert_no_pending_responses()
    assert scored.results[0]["sentiment"] == "POSITIVE"
    assert scored.results[3]["sentiment"] == "NEGATIVE"  # retried
    assert scored.results[25]["sentiment"] == "NEUTRAL"
    assert scored.results[26] is None and "TEXT_SIZE_LIMIT_EXCEEDED" in scored.errors[26]
    assert set(scored.results[0]["scores"]) == {"Positive", "Negative", "Neutral", "Mixed"}


def test_long_parts_are_weighted_by_their_length() -> None:
    parts = [(0, "a" * 300), (0, "b" * 100)]
    found = {
        0: {"SentimentScore": scores(1.0, 0.0)},
        1: {"SentimentScore": scores(0.0, 1.0)},
    }
    combined = sentiment._combine(["x"], parts, found, {})
    assert combined.results[0]["scores"]["Positive"] == pytest.approx(0.75)
    assert combined.results[0]["sentiment"] == "POSITIVE"


def test_one_sentence_longer_than_the_limit_is_cut_at_words() -> None:
    sentence = "word " * 2000
    pieces = sentiment.chunks(sentence)
    assert all(len(p.encode()) <= 5000 for p in pieces)
    assert " ".join(pieces).split() == sentence.split()
