"""Sentiment backends: a label (POSITIVE, NEGATIVE, NEUTRAL, MIXED) and all four scores
per text, in Amazon Comprehend's shape.

- ``vader``: offline (vaderSentiment), the default.
- ``comprehend``: BatchDetectSentiment, 25 texts per call. A text over Comprehend's
  5,000-byte limit is split at sentence boundaries (a single sentence longer than
  that is cut at a word boundary) and its parts' scores are averaged by length.
  Items in the ErrorList are sent once more; what still fails is reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LABELS = ("POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED")
SCORES = ("Positive", "Negative", "Neutral", "Mixed")
BATCH = 25
MAX_BYTES = 5000
MIXED_SHARE = 0.12  # both sides at least this share of the words' weight ...
MIXED_COMPOUND = 0.6  # ... and no clear winner
SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass
class Scored:
    """Results in the order of the texts: {"sentiment", "scores"} or None, and errors."""

    results: list[dict[str, Any] | None]
    errors: dict[int, str] = field(default_factory=dict)


def label_of(scores: dict[str, float]) -> str:
    return LABELS[max(range(4), key=lambda i: scores[SCORES[i]])]


# -- vader ------------------------------------------------------------------------------


def vader_scores(analyzer: Any, text: str) -> dict[str, Any]:
    """VADER's proportions as Comprehend's four scores.

    The mixed score is twice the smaller of the positive and negative proportions,
    taken from both. Text is MIXED when both proportions are substantial and neither
    side wins clearly; otherwise the label follows VADER's compound score (+-0.05, its
    authors' thresholds).
    """
    raw = analyzer.polarity_scores(text)
    mixed = 2 * min(raw["pos"], raw["neg"])
    scores = {
        "Positive": raw["pos"] - mixed / 2,
        "Negative": raw["neg"] - mixed / 2,
        "Neutral": raw["neu"],
        "Mixed": mixed,
    }
    if min(raw["pos"], raw["neg"]) >= MIXED_SHARE and abs(raw["compound"]) < MIXED_COMPOUND:
        sentiment = "MIXED"
    elif raw["compound"] >= 0.05:
        sentiment = "POSITIVE"
    elif raw["compound"] <= -0.05:
        sentiment = "NEGATIVE"
    else:
        sentiment = "NEUTRAL"
    return {"sentiment": sentiment, "scores": scores, "compound": raw["compound"]}


def vader(texts: list[str]) -> Scored:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return Scored([vader_scores(analyzer, text) if text.strip() else None for text in texts])


# -- comprehend -------------------------------------------------------------------------


def chunks(text: str, limit: int = MAX_BYTES) -> list[str]:
    """Parts of ``text`` of at most ``limit`` UTF-8 bytes, cut between sentences.

    >>> chunks("One. Two. Three.", limit=10)
    ['One. Two.', 'Three.']
    """
    pieces = [p for sentence in SENTENCE.split(text.strip()) for p in _fit(sentence, limit)]
    return _pack(pieces, limit)


def _fit(sentence: str, limit: int) -> list[str]:
    """A sentence longer than the limit, cut at word boundaries (or bytes, for one word)."""
    if len(sentence.encode()) <= limit:
        return [sentence]
    words: list[str] = []
    for word in sentence.split():
        while len(word.encode()) > limit:
            head = word.encode()[:limit].decode(errors="ignore")
            words.append(head)
            word = word[len(head) :]
        if word:
            words.append(word)
    return _pack(words, limit)


def _pack(pieces: list[str], limit: int) -> list[str]:
    """Consecutive pieces joined with spaces into parts of at most ``limit`` bytes."""
    parts: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current} {piece}" if current else piece
        if len(candidate.encode()) <= limit:
            current = candidate
        else:
            if current:
                parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return parts


def comprehend(client: Any, texts: list[str], language: str = "en", attempts: int = 2) -> Scored:
    """BatchDetectSentiment over every part of every text, 25 parts a call."""
    parts: list[tuple[int, str]] = [
        (index, part) for index, text in enumerate(texts) for part in chunks(text)
    ]
    found: dict[int, dict[str, Any]] = {}
    failed: dict[int, str] = {}
    pending = list(range(len(parts)))
    for _ in range(attempts):
        failed = {}
        for start in range(0, len(pending), BATCH):
            batch = pending[start : start + BATCH]
            answer = client.batch_detect_sentiment(
                TextList=[parts[i][1] for i in batch], LanguageCode=language
            )
            for item in answer.get("ResultList", []):
                found[batch[item["Index"]]] = item
            for item in answer.get("ErrorList", []):
                failed[batch[item["Index"]]] = (
                    f"{item.get('ErrorCode')}: {item.get('ErrorMessage', '')}".strip()
                )
        pending = sorted(failed)
        if not pending:
            break
    return _combine(texts, parts, found, failed)


def _combine(
    texts: list[str],
    parts: list[tuple[int, str]],
    found: dict[int, dict[str, Any]],
    failed: dict[int, str],
) -> Scored:
    totals: dict[int, dict[str, float]] = {}
    weights: dict[int, float] = {}
    errors: dict[int, str] = {}
    for number, (index, text) in enumerate(parts):
        if number in failed:
            errors[index] = failed[number]
            continue
        item = found.get(number)
        if item is None:
            continue
        weight = float(len(text.encode()))
        sums = totals.setdefault(index, dict.fromkeys(SCORES, 0.0))
        for name in SCORES:
            sums[name] += weight * float(item["SentimentScore"][name])
        weights[index] = weights.get(index, 0.0) + weight
    results: list[dict[str, Any] | None] = []
    for index in range(len(texts)):
        if index in errors or index not in totals:
            results.append(None)
            continue
        scores = {name: totals[index][name] / weights[index] for name in SCORES}
        results.append({"sentiment": label_of(scores), "scores": scores})
    return Scored(results, errors)


BACKENDS: dict[str, Callable[..., Scored]] = {"vader": vader, "comprehend": comprehend}
