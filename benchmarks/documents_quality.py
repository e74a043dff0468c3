"""Paragraph segmentation and sentiment quality on generated documents.

Generates review reports as PDFs with a known structure in four layouts (headers
set apart by font size, by indentation, two columns, paragraphs set apart by
spacing), reads them with the local PDF backend, splits them with every
technique and compares with the truth, line by line in reading order:

- boundary F1: a boundary is a line that starts a new row (precision and recall
  over all boundaries, micro-averaged);
- Pk and WindowDiff (lower is better), with k half the mean true row length;
- header F1: lines put in a title or section header row.

Then the sentiment accuracy of each backend on two labeled sets: the generated
paragraphs (labeled by construction) and the hand-written reviews shipped in
benchmarks/data/sentiment.jsonl (with MIXED ones).

Run: .venv/bin/python benchmarks/documents_quality.py [--docs 5] [--comprehend]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections import Counter
from pathlib import Path

from nltk.metrics.segmentation import pk, windowdiff

from labellake.etl import paragraphs, textract
from labellake.workflows.documents import detection, sentiment
from labellake.workflows.samples.review_pdfs import LAYOUTS, Sample, write_pdf

TECHNIQUES = ("font", "indent", "spacing", "period", "auto")
LABELED = Path(__file__).parent / "data/sentiment.jsonl"


def match(sample: Sample, lines: list[textract.Line]) -> list[str | None]:
    """The detected line id for each drawn line (same page and text, nearest top)."""
    free = list(lines)
    ids: list[str | None] = []
    for drawn in sample.lines:
        candidates = [ln for ln in free if ln.page == drawn.page and ln.text == drawn.text]
        if not candidates:
            ids.append(None)
            continue
        best = min(candidates, key=lambda ln: abs(ln.top - drawn.top))
        free.remove(best)
        ids.append(best.id)
    return ids


def score(sample: Sample, ids: list[str | None], segments: list[paragraphs.Segment]) -> dict:
    row_of = {line.id: n for n, s in enumerate(segments) for line in s.lines}
    role_of = {line.id: s.role for s in segments for line in s.lines}
    truth = [d.row for d in sample.lines]
    found = [row_of.get(i, -1) if i else -1 for i in ids]
    ref = "".join("1" if a != b else "0" for a, b in zip(truth, truth[1:], strict=False))
    hyp = "".join("1" if a != b else "0" for a, b in zip(found, found[1:], strict=False))
    tp = sum(r == h == "1" for r, h in zip(ref, hyp, strict=True))
    k = max(2, round(len(truth) / len(set(truth)) / 2))
    header = ("title", "section_header")
    true_h = [sample.rows[d.row].role in header for d in sample.lines]
    found_h = [role_of.get(i or "") in header for i in ids]
    return {
        "tp": tp,
        "fp": hyp.count("1") - tp,
        "fn": ref.count("1") - tp,
        "pk": pk(ref, hyp, k),
        "windowdiff": windowdiff(ref, hyp, k),
        "h_tp": sum(a and b for a, b in zip(true_h, found_h, strict=True)),
        "h_fp": sum(b and not a for a, b in zip(true_h, found_h, strict=True)),
        "h_fn": sum(a and not b for a, b in zip(true_h, found_h, strict=True)),
        "unmatched": ids.count(None),
    }


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def segmentation(docs: int, folder: Path) -> tuple[dict, list[tuple[str, str]]]:
    results: dict[tuple[str, str], list[dict]] = {}
    labeled: list[tuple[str, str]] = []
    for layout in LAYOUTS:
        for seed in range(docs):
            path = folder / f"{layout}-{seed}.pdf"
            sample = write_pdf(path, layout, seed=seed, sections=8)
            labeled += [(r.text, r.sentiment) for r in sample.rows if r.sentiment]
            found = detection.from_pdf(path.read_bytes(), path.name)
            lines = textract.read_lines(found.responses)
            ids = match(sample, lines)
            for technique in TECHNIQUES:
                segments = paragraphs.segment(lines, technique)
                results.setdefault((layout, technique), []).append(score(sample, ids, segments))
    return results, labeled


def report(results: dict) -> None:
    print(f"{'layout':<11} {'technique':<8} {'F1':>5} {'Pk':>5} {'WD':>5} {'header F1':>9}")
    overall: dict[str, list[dict]] = {}
    for (layout, technique), scores in results.items():
        overall.setdefault(technique, []).extend(scores)
        _line(layout, technique, scores)
    print()
    for technique, scores in overall.items():
        _line("all", technique, scores)
    if any(s["unmatched"] for scores in results.values() for s in scores):
        print("warning: some drawn lines were not found in the detected text")


def _line(layout: str, technique: str, scores: list[dict]) -> None:
    total = Counter()
    for s in scores:
        total.update({k: v for k, v in s.items() if k not in ("pk", "windowdiff")})
    print(
        f"{layout:<11} {technique:<8} "
        f"{f1(total['tp'], total['fp'], total['fn']):5.2f} "
        f"{statistics.mean(s['pk'] for s in scores):5.2f} "
        f"{statistics.mean(s['windowdiff'] for s in scores):5.2f} "
        f"{f1(total['h_tp'], total['h_fp'], total['h_fn']):9.2f}"
    )


def sentiment_accuracy(name: str, labeled: list[tuple[str, str]], backends: list[str]) -> None:
    for backend in backends:
        texts = [text for text, _ in labeled]
        if backend == "comprehend":
            import boto3

            scored = sentiment.comprehend(boto3.client("comprehend"), texts)
        else:
            scored = sentiment.vader(texts)
        right = sum(
            bool(r) and r["sentiment"] == label
            for r, (_, label) in zip(scored.results, labeled, strict=True)
        )
        by_label = Counter(label for _, label in labeled)
        hits = Counter(
            label
            for r, (_, label) in zip(scored.results, labeled, strict=True)
            if r and r["sentiment"] == label
        )
        detail = ", ".join(f"{k} {hits[k]}/{n}" for k, n in sorted(by_label.items()))
        print(
            f"sentiment {backend:<10} on {name}: accuracy {right / len(labeled):.2f} "
            f"({right}/{len(labeled)}; {detail})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5, help="documents per layout")
    parser.add_argument(
        "--comprehend", action="store_true", help="also score with Amazon Comprehend (AWS)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results, labeled = segmentation(args.docs, Path(folder))
    report(results)
    print()
    backends = ["vader"] + (["comprehend"] if args.comprehend else [])
    shipped = [
        (row["text"], row["sentiment"])
        for row in map(json.loads, LABELED.read_text().splitlines())
        if row
    ]
    sentiment_accuracy("generated paragraphs", labeled, backends)
    sentiment_accuracy("shipped reviews", shipped, backends)


if __name__ == "__main__":
    main()
