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
  LAYOUT_HEADER / LAYOUT_FOOTER blocks, over all documents (per document: blank where
  a document has neither);
- title/section header F1: lines put in title / section_header rows against the lines of
  LAYOUT_TITLE / LAYOUT_SECTION_HEADER blocks, over all documents;
- mixed: rows holding lines of two LAYOUT_TEXT blocks that sit side by side (their
  horizontal extents do not overlap), i.e. two columns in one paragraph. A sentence
  carried on from the last line of one block to the first line of the next (the foot of
  a column to the head of the next) is reading order, not a mix.

Run: .venv/bin/python benchmarks/documents_real.py [FOLDER]
(default benchmarks/data/textract_layout; ORIGIN.md there says where each file is from)
"""

from __future__ import annotations

import argparse
import gzip
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
HEADINGS = {"LAYOUT_TITLE", "LAYOUT_SECTION_HEADER"}


@dataclass
class Score:
    boundary_f1: float
    pk: float
    windowdiff: float
    exact_f1: float | None  # None: the document has no LAYOUT_TEXT block
    furniture: tuple[int, int, int]  # header/footer lines: hits, false, missed
    headings: tuple[int, int, int]  # title/section header lines: hits, false, missed
    mixed: int

    @property
    def furniture_f1(self) -> float | None:
        hit, false, missed = self.furniture
        return f1(hit, false, missed) if hit + missed else None


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
    text_lines = set().union(*truth_paragraphs) if truth_paragraphs else set()
    # Rows made only of table, figure, title, ... lines are not paragraphs to score.
    found_paragraphs = {frozenset(ids) for _, ids in rows if text_lines & set(ids)}
    exact = len(truth_paragraphs & found_paragraphs)
    exact_f1 = (
        f1(exact, len(found_paragraphs) - exact, len(truth_paragraphs) - exact)
        if truth_paragraphs
        else None
    )
    truth_furniture = {
        (i, FURNITURE[by_id[i].layout or ""]) for i in by_id if by_id[i].layout in FURNITURE
    }
    found_furniture = {(i, role) for role, ids in rows if role in FURNITURE.values() for i in ids}
    hit = len(truth_furniture & found_furniture)
    furniture = (hit, len(found_furniture) - hit, len(truth_furniture) - hit)
    truth_headings = {i for i in by_id if by_id[i].layout in HEADINGS}
    found_headings = {i for role, ids in rows if role in paragraphs.HEADERS for i in ids}
    hit = len(truth_headings & found_headings)
    headings = (hit, len(found_headings) - hit, len(truth_headings) - hit)
    mixed = sum(_mixes(ids, by_id, blocks) for role, ids in rows if role not in FURNITURE.values())
    return Score(boundary, seg_pk, seg_wd, exact_f1, furniture, headings, mixed)


def _mixes(ids: list[str], by_id: dict, blocks: dict[str, set[str]]) -> bool:
    """Whether a row mixes two columns: it holds lines of two LAYOUT_TEXT blocks that sit
    side by side on a page, other than a sentence carried from the last line of one to
    the first line of the next (the foot of a column to the head of the next)."""
    runs: list[list[str]] = []
    for i in ids:
        block = by_id[i].layout_id if by_id[i].layout == "LAYOUT_TEXT" else None
        if block is None:
            continue
        if runs and by_id[runs[-1][-1]].layout_id == block:
            runs[-1].append(i)
        else:
            runs.append([i])
    names = [by_id[run[0]].layout_id for run in runs]
    if len(set(names)) < len(names):
        return True  # back and forth between blocks
    order = {b: sorted(members, key=lambda i: by_id[i].order) for b, members in blocks.items()}
    for x, y in zip(runs, runs[1:], strict=False):
        a, b = by_id[x[0]].layout_id, by_id[y[0]].layout_id
        left = (min(by_id[i].left for i in blocks[a]), max(by_id[i].right for i in blocks[a]))
        right = (min(by_id[i].left for i in blocks[b]), max(by_id[i].right for i in blocks[b]))
        side_by_side = left[1] <= right[0] or right[1] <= left[0]
        same_page = by_id[x[0]].page == by_id[y[0]].page
        handoff = x[-1] == order[a][-1] and y[0] == order[b][0]
        if side_by_side and same_page and not handoff:
            return True
    return False


def load(path: Path) -> object:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def evaluate(path: Path) -> dict[str, Score]:
    truth = textract.read_lines(load(path))
    bare = [replace(line, layout=None, layout_id=None) for line in truth]  # layout removed
    return {method: score(truth, rows_of(method, bare)) for method in (*TECHNIQUES, *BASELINES)}


def cell(value: float | None) -> str:
    return "   -" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=CORPUS)
    args = parser.parse_args()
    files = sorted([*args.folder.glob("*.json"), *args.folder.glob("*.json.gz")])
    if not files:
        raise SystemExit(f"no Textract responses (*.json, *.json.gz) in {args.folder}")
    methods = (*TECHNIQUES, *BASELINES)
    every: dict[str, list[Score]] = {m: [] for m in methods}
    print(f"{len(files)} documents in {args.folder}")
    print("exact-paragraph F1 per document (boundary F1 in brackets); auto's rows mixing two")
    print("columns; auto's header/footer F1 where Textract marks headers or footers")
    print(f"{'document':<36}" + "".join(f"{m:>13}" for m in methods) + "  mixed  hdr/ftr")
    for path in files:
        results = evaluate(path)
        cells = "".join(
            f"{cell(results[m].exact_f1):>6} ({results[m].boundary_f1:.2f})" for m in methods
        )
        auto = results["auto"]
        name = path.name.removesuffix(".gz").removesuffix(".json")
        print(f"{name[:35]:<36}{cells}  {auto.mixed:>5}  {cell(auto.furniture_f1):>7}")
        for method in methods:
            every[method].append(results[method])
    scored = [s.exact_f1 is not None for s in every["auto"]]
    print(f"\nmedians (exact F1 over the {sum(scored)} documents with LAYOUT_TEXT blocks)")
    print(f"{'':<20}" + "".join(f"{m:>12}" for m in methods))
    for name in ("exact_f1", "boundary_f1", "pk", "windowdiff"):
        values = [
            statistics.median(v for v in (getattr(s, name) for s in every[m]) if v is not None)
            for m in methods
        ]
        print(f"{name:<20}" + "".join(f"{v:>12.2f}" for v in values))
    hit, false, missed = (sum(x) for x in zip(*(s.furniture for s in every["auto"]), strict=True))
    per_doc = [s.furniture_f1 for s in every["auto"] if s.furniture_f1 is not None]
    print(
        f"auto header/footer lines, all documents: F1 {f1(hit, false, missed):.2f} "
        f"({hit} found, {false} false, {missed} missed); median per document "
        f"{statistics.median(per_doc):.2f} over the {len(per_doc)} with LAYOUT_HEADER/FOOTER"
    )
    hit, false, missed = (sum(x) for x in zip(*(s.headings for s in every["auto"]), strict=True))
    print(
        f"auto title/section header lines, all documents: F1 {f1(hit, false, missed):.2f} "
        f"({hit} found, {false} false, {missed} missed)"
    )
    below = [
        path.name
        for path, a, b in zip(files, every["auto"], every["one_line"], strict=True)
        if a.exact_f1 is not None and b.exact_f1 is not None and a.exact_f1 < b.exact_f1
    ]
    print(
        f"auto below one-line-per-paragraph (exact F1) on {len(below)} of {sum(scored)} "
        f"documents{': ' + ', '.join(below) if below else ''}; "
        f"rows mixing two columns: {sum(s.mixed for s in every['auto'])}"
    )


if __name__ == "__main__":
    main()
