"""Paragraph segmentation on real Textract responses, against Textract's own layout.

Each response in the corpus folder carries LAYOUT_* blocks. The truth is Textract's
layout: every LAYOUT_TEXT block is one paragraph (a LAYOUT_LIST one list, its items
inside it), LAYOUT_HEADER / LAYOUT_FOOTER lines are page headers and footers. Every
technique then splits the same LINE blocks with the LAYOUT blocks removed, beside two
baselines: one line per paragraph, and one paragraph per page. Scored over the lines in
the response's order:

- boundary F1: a boundary is a line that starts a new row (micro over the document);
- Pk and WindowDiff (nltk; lower is better), k half the mean true row length;
- exact-paragraph F1: rows whose lines are exactly one LAYOUT_TEXT block's lines, over
  the technique's paragraph rows and the LAYOUT_TEXT blocks;
- header/footer F1: lines put in page_header / page_footer rows against the lines of
  LAYOUT_HEADER / LAYOUT_FOOTER blocks (blank where a document has neither);
- mixed: paragraph rows holding lines of two LAYOUT_TEXT blocks that sit side by side
  (their horizontal extents do not overlap), i.e. two columns in one paragraph.

Run: .venv/bin/python benchmarks/documents_real.py [FOLDER]
(default benchmarks/data/textract_layout; ORIGIN.md there says where each file is from)
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass, replace
from pathlib import Path

from nltk.metrics.segmentation import pk, windowdiff

from labellake.etl import paragraphs, textract

CORPUS = Path(__file__).parent / "data/textract_layout"
TECHNIQUES = ("auto", "font", "indent", "spacing", "period")
BASELINES = ("one_line", "whole_page")
FURNITURE = {"LAYOUT_HEADER": "page_header", "LAYOUT_FOOTER": "page_footer"}


@dataclass
class Score:
    boundary_f1: float
    pk: float
    windowdiff: float
    exact_f1: float
    furniture_f1: float | None
    mixed: int


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def rows_of(method: str, lines: list[textract.Line]) -> list[tuple[str, list[str]]]:
    """(role, line ids) per row of a technique or baseline, on lines without layout."""
    if method == "one_line":
        return [("paragraph", [line.id]) for line in lines]
    if method == "whole_page":
        pages: dict[int, list[str]] = {}
        for line in lines:
            pages.setdefault(line.page, []).append(line.id)
        return [("paragraph", ids) for _, ids in sorted(pages.items())]
    return [(s.role, [line.id for line in s.lines]) for s in paragraphs.segment(lines, method)]


def score(lines: list[textract.Line], rows: list[tuple[str, list[str]]]) -> Score:
    order = [line.id for line in sorted(lines, key=lambda ln: ln.order)]
    truth_row = {line.id: line.layout_id or f"loose-{line.id}" for line in lines}
    found_row = {i: n for n, (_, ids) in enumerate(rows) for i in ids}
    ref = "".join(
        "1" if truth_row[a] != truth_row[b] else "0" for a, b in zip(order, order[1:], strict=False)
    )
    hyp = "".join(
        "1" if found_row[a] != found_row[b] else "0" for a, b in zip(order, order[1:], strict=False)
    )
    tp = sum(r == h == "1" for r, h in zip(ref, hyp, strict=True))
    boundary = f1(tp, hyp.count("1") - tp, ref.count("1") - tp)
    k = max(2, round(len(order) / max(1, ref.count("1") + 1) / 2))
    k = min(k, max(1, len(ref) - 1))
    seg_pk = pk(ref, hyp, k=k) if len(ref) > k else 0.0
    seg_wd = windowdiff(ref, hyp, k=k) if len(ref) > k else 0.0
    by_id = {line.id: line for line in lines}
    blocks: dict[str, set[str]] = {}
    for line in lines:
        if line.layout == "LAYOUT_TEXT" and line.layout_id:
            blocks.setdefault(line.layout_id, set()).add(line.id)
    truth_paragraphs = {frozenset(ids) for ids in blocks.values()}
    found_paragraphs = {frozenset(ids) for role, ids in rows if role == "paragraph"}
    exact = len(truth_paragraphs & found_paragraphs)
    exact_f1 = f1(exact, len(found_paragraphs) - exact, len(truth_paragraphs) - exact)
    truth_furniture = {
        (i, FURNITURE[by_id[i].layout or ""]) for i in by_id if by_id[i].layout in FURNITURE
    }
    found_furniture = {(i, role) for role, ids in rows if role in FURNITURE.values() for i in ids}
    furniture = None
    if truth_furniture:
        hit = len(truth_furniture & found_furniture)
        furniture = f1(hit, len(found_furniture) - hit, len(truth_furniture) - hit)
    extent = {
        block: (
            min(by_id[i].left for i in ids),
            max(by_id[i].right for i in ids),
        )
        for block, ids in blocks.items()
    }
    mixed = 0
    for role, ids in rows:
        if role != "paragraph":
            continue
        held = sorted({by_id[i].layout_id for i in ids if by_id[i].layout == "LAYOUT_TEXT"})
        if any(
            extent[a][1] <= extent[b][0] or extent[b][1] <= extent[a][0]
            for x, a in enumerate(held)
            for b in held[x + 1 :]
            if by_id[next(iter(blocks[a]))].page == by_id[next(iter(blocks[b]))].page
        ):
            mixed += 1
    return Score(boundary, seg_pk, seg_wd, exact_f1, furniture, mixed)


def evaluate(path: Path) -> dict[str, Score]:
    truth = textract.read_lines(json.loads(path.read_text()))
    bare = [replace(line, layout=None, layout_id=None) for line in truth]  # layout removed
    results = {}
    for method in (*TECHNIQUES, *BASELINES):
        found = rows_of(method, bare)
        results[method] = score(truth, found)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=CORPUS)
    args = parser.parse_args()
    files = sorted(args.folder.glob("*.json"))
    if not files:
        raise SystemExit(f"no Textract responses (*.json) in {args.folder}")
    methods = (*TECHNIQUES, *BASELINES)
    every: dict[str, list[Score]] = {m: [] for m in methods}
    print(f"{len(files)} documents in {args.folder}")
    print("exact-paragraph F1 per document (boundary F1 in brackets); mixed rows; header/footer F1")
    print(f"{'document':<44}" + "".join(f"{m:>16}" for m in methods))
    for path in files:
        results = evaluate(path)
        cells = "".join(
            f"{results[m].exact_f1:>7.2f} ({results[m].boundary_f1:.2f})" for m in methods
        )
        mixed = results["auto"].mixed
        furniture = results["auto"].furniture_f1
        extra = f"  auto mixed {mixed}" + (
            f", header/footer F1 {furniture:.2f}" if furniture is not None else ""
        )
        print(f"{path.stem[:43]:<44}{cells}{extra}")
        for method in methods:
            every[method].append(results[method])
    print("\nmedians")
    print(f"{'':<20}" + "".join(f"{m:>12}" for m in methods))
    for name in ("exact_f1", "boundary_f1", "pk", "windowdiff"):
        values = [statistics.median(getattr(s, name) for s in every[m]) for m in methods]
        print(f"{name:<20}" + "".join(f"{v:>12.2f}" for v in values))
    furniture = [s.furniture_f1 for s in every["auto"] if s.furniture_f1 is not None]
    if furniture:
        print(
            f"auto header/footer F1: median {statistics.median(furniture):.2f} over "
            f"{len(furniture)} documents with LAYOUT_HEADER/LAYOUT_FOOTER"
        )
    beaten = sum(
        a.exact_f1 < b.exact_f1 for a, b in zip(every["auto"], every["one_line"], strict=True)
    )
    print(
        f"auto below one-line-per-paragraph (exact F1) on {beaten} of {len(files)} documents; "
        f"rows mixing two columns: {sum(s.mixed for s in every['auto'])}"
    )


if __name__ == "__main__":
    main()
