"""Documents: lines in reading order (`textract.py`) -> headers and paragraphs, the rows of
the `paragraphs` table.

Every technique works on the same prepared lines: each page's columns are found
and read left to right, running page headers, footers and page numbers are set
apart with their role, and lines are joined with a space (a word hyphenated at a
line end is joined whole). Each LINE of the input ends up in exactly one row.

The techniques, as the reference solution documents them, and two more:

- ``font``: line heights are clustered; lines in a cluster taller than the body's
  are headers; the lines between two headers are one paragraph.
- ``indent``: lines that start distinctly left of the body (the margin is read off
  the page, not hard-coded) are headers; the lines between two headers are one
  paragraph.
- ``spacing``: a paragraph starts where the vertical gap to the previous line is
  clearly larger than the typical gap between lines.
- ``period``: a line ending in a full stop closes a paragraph; trailing text with
  no full stop is a paragraph too.
- ``layout``: Textract's LAYOUT_* blocks, one row each (a list one row, its items
  inside it; figure text role ``figure``). On a response without them it falls back to
  ``spacing`` and says so (``used``).
- ``auto``: layout when the response has it; otherwise headers by height or
  indentation, and paragraph breaks by spacing, first-line indentation and short
  lines that end a sentence.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from labellake.etl.textract import (
    DocumentError,
    Line,
    columns,
    has_layout,
    join_lines,
    page_furniture,
    reading_order,
)
from labellake.lake import get_table

TECHNIQUES = ("auto", "font", "indent", "spacing", "period", "layout")
ROLES = (
    "paragraph",
    "title",
    "section_header",
    "page_header",
    "page_footer",
    "page_number",
    "list",
    "table",
    "figure",
)
LAYOUT_ROLES = {
    "LAYOUT_TITLE": "title",
    "LAYOUT_SECTION_HEADER": "section_header",
    "LAYOUT_HEADER": "page_header",
    "LAYOUT_FOOTER": "page_footer",
    "LAYOUT_PAGE_NUMBER": "page_number",
    "LAYOUT_LIST": "list",
    "LAYOUT_TABLE": "table",
    "LAYOUT_TEXT": "paragraph",
    "LAYOUT_FIGURE": "figure",
    "LAYOUT_KEY_VALUE": "paragraph",
}
HEADERS = ("title", "section_header")
LIST_ITEM = re.compile(r"^\s*([-\u2022\u2023\u25e6*\u2013]|\(?\d{1,3}[.)]|\(?[a-z][.)])\s+")
SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)]*$")


@dataclass
class Segment:
    """A run of lines that becomes one row: a paragraph, a header, a footer, ..."""

    role: str
    lines: list[Line] = field(default_factory=list)
    header: str | None = None

    @property
    def text(self) -> str:
        return join_lines([line.text for line in self.lines])

    @property
    def page(self) -> int:
        return self.lines[0].page


# -- the techniques: which lines are headers, where paragraphs start -------------------


@dataclass
class Marks:
    """A technique's verdict per body line: a header, or the first line of a paragraph."""

    header: list[bool]
    starts: list[bool]


def _height_clusters(heights: list[float]) -> list[list[float]]:
    """1-D clusters of line heights: a new cluster where the next height is > 12% taller."""
    clusters: list[list[float]] = []
    for height in sorted(heights):
        if clusters and height <= clusters[-1][-1] * 1.12:
            clusters[-1].append(height)
        else:
            clusters.append([height])
    return clusters


def taller_than_body(lines: list[Line]) -> list[bool]:
    """Lines whose height falls in a cluster taller than the body text's cluster."""
    if not lines:
        return []
    clusters = _height_clusters([line.height for line in lines])
    body = max(clusters, key=len)
    limit = max(body)
    return [line.height > limit and len(line.text.split()) <= 20 for line in lines]


def outdented(lines: list[Line]) -> list[bool]:
    """Lines that start distinctly left of their column's body text.

    The body's edge in each column is where most of its lines start; the margin is
    three times the spread of those starts, and at least 1% of the page width.
    """
    result = [False] * len(lines)
    for group in _by_column(lines):
        starts = [lines[i].left for i in group]
        body = statistics.median(starts)
        near = [s for s in starts if abs(s - body) < 0.05]
        spread = statistics.median([abs(s - body) for s in near]) if near else 0.0
        margin = max(0.01, 3 * spread)
        # The body edge is where most lines start: the largest group of equal starts.
        edge = Counter(round(s, 3) for s in starts).most_common(1)[0][0]
        for i in group:
            result[i] = lines[i].left < edge - margin
    return result


def _by_column(lines: list[Line]) -> list[list[int]]:
    """Indexes of the lines per (page, column), columns found per page."""
    groups: dict[tuple[int, int], list[int]] = {}
    for page in sorted({line.page for line in lines}):
        idx = [i for i, line in enumerate(lines) if line.page == page]
        gutters = columns([lines[i] for i in idx])
        for i in idx:
            number = sum(1 for g in gutters if lines[i].left >= g)
            groups.setdefault((page, number), []).append(i)
    return list(groups.values())


def _gaps(lines: list[Line]) -> list[float | None]:
    """The vertical gap from each line to the one before it in the same column and page
    (None for the first line of a column or page: a break of its own)."""
    gaps: list[float | None] = [None] * len(lines)
    for group in _by_column(lines):
        for previous, current in zip(group, group[1:], strict=False):
            gap = lines[current].top - lines[previous].bottom
            gaps[current] = gap if gap > -lines[current].height / 2 else None
    return gaps


def wide_gap(lines: list[Line]) -> list[bool]:
    """Lines preceded by a gap clearly larger than the typical gap between lines."""
    gaps = _gaps(lines)
    known = [g for g in gaps if g is not None]
    if not known:
        return [False] * len(lines)
    typical = statistics.median(known)
    body_height = statistics.median([line.height for line in lines])
    limit = typical + max(0.35 * body_height, 0.5 * abs(typical))
    return [g is not None and g > limit for g in gaps]


def font(lines: list[Line]) -> Marks:
    headers = taller_than_body(lines)
    return Marks(headers, _after_headers(headers))


def indent(lines: list[Line]) -> Marks:
    headers = outdented(lines)
    return Marks(headers, _after_headers(headers))


def spacing(lines: list[Line]) -> Marks:
    return Marks([False] * len(lines), wide_gap(lines))


def period(lines: list[Line]) -> Marks:
    starts = [False] * len(lines)
    for i in range(1, len(lines)):
        starts[i] = lines[i - 1].text.rstrip().endswith(".")
    return Marks([False] * len(lines), starts)


def combined(lines: list[Line]) -> Marks:
    """Headers by height, by indentation, or as short lines set apart above that end
    no sentence; paragraph breaks by spacing, first-line indentation, or a short line that ends a
    sentence, and wherever a header or a list item begins."""
    taller = taller_than_body(lines)
    out = outdented(lines)
    gap = wide_gap(lines)
    widths = _column_widths(lines)
    gaps = _gaps(lines)

    def standalone(i: int) -> bool:
        """A short line set apart above, ending no sentence, with text below it."""
        line = lines[i]
        return (
            (gaps[i] is None or gap[i])
            and i + 1 < len(lines)
            and lines[i + 1].page == line.page
            and len(line.text.split()) <= 8
            and line.width < 0.5 * widths[i]
            and not SENTENCE_END.search(line.text)
            and not LIST_ITEM.match(line.text)
        )

    headers = [
        taller[i]
        or (out[i] and len(line.text.split()) <= 12 and not SENTENCE_END.search(line.text))
        or standalone(i)
        for i, line in enumerate(lines)
    ]
    edges = _column_edges(lines)
    starts = _after_headers(headers)
    for i in range(1, len(lines)):
        line, previous = lines[i], lines[i - 1]
        indented = line.left > edges[i] + 0.015 and previous.left <= edges[i - 1] + 0.005
        short_end = SENTENCE_END.search(previous.text.rstrip()) is not None and (
            previous.width < 0.8 * widths[i - 1]
        )
        listed = LIST_ITEM.match(line.text) is not None
        starts[i] = starts[i] or gap[i] or indented or short_end or listed
    return Marks(headers, starts)


def _column_widths(lines: list[Line]) -> list[float]:
    widths = [0.0] * len(lines)
    for group in _by_column(lines):
        full = max(lines[i].width for i in group)
        for i in group:
            widths[i] = full
    return widths


def _column_edges(lines: list[Line]) -> list[float]:
    edges = [0.0] * len(lines)
    for group in _by_column(lines):
        edge = Counter(round(lines[i].left, 3) for i in group).most_common(1)[0][0]
        for i in group:
            edges[i] = edge
    return edges


def _after_headers(headers: list[bool]) -> list[bool]:
    """A paragraph starts at every header and at the first line after one."""
    return [headers[i] or (i > 0 and headers[i - 1]) or i == 0 for i in range(len(headers))]


MARKERS = {"font": font, "indent": indent, "spacing": spacing, "period": period, "auto": combined}


# -- from marks to segments -------------------------------------------------------------


def segment(lines: list[Line], technique: str = "auto") -> list[Segment]:
    """Split a document's lines into rows with a role, in reading order."""
    if technique not in TECHNIQUES:
        raise DocumentError(f"technique '{technique}': use one of {', '.join(TECHNIQUES)}")
    if not lines:
        raise DocumentError("no lines to split")
    if technique in ("layout", "auto") and has_layout(lines):
        return _by_layout(lines)
    if technique == "layout":
        technique = "spacing"  # no LAYOUT blocks to follow (``used`` says so)
    ordered = reading_order(lines)
    furniture = page_furniture(ordered)
    body = [line for line in ordered if line.id not in furniture]
    marks = MARKERS[technique](body) if body else Marks([], [])
    segments: list[Segment] = []
    body_segments = _assemble(body, marks, list_items=technique == "auto")
    # Page furniture goes back in page order: a header before the page, a footer after.
    by_page: dict[int, list[Segment]] = {}
    for piece in body_segments:
        by_page.setdefault(piece.page, []).append(piece)
    for page in sorted({line.page for line in ordered}):
        tops = [
            Segment(furniture[ln.id], [ln])
            for ln in ordered
            if ln.page == page and ln.id in furniture
        ]
        segments += [s for s in tops if s.lines[0].top < 0.5]
        segments += by_page.get(page, [])
        segments += [s for s in tops if s.lines[0].top >= 0.5]
    _name_headers(segments)
    return segments


def used(lines: list[Line], technique: str) -> tuple[str, str | None]:
    """The technique ``segment`` really uses on these lines, and why, when it is not the
    one asked for (layout on a response without LAYOUT blocks falls back to spacing)."""
    if technique in ("layout", "auto") and has_layout(lines):
        return "layout", None
    if technique == "layout":
        return "spacing", (
            "technique layout: the response has no LAYOUT blocks (Textract's AnalyzeDocument "
            "with the LAYOUT feature makes them); the paragraphs were split by spacing"
        )
    return technique, None


def _assemble(body: list[Line], marks: Marks, list_items: bool) -> list[Segment]:
    segments: list[Segment] = []
    for i, line in enumerate(body):
        role = "section_header" if marks.header[i] else "paragraph"
        if role == "paragraph" and list_items and LIST_ITEM.match(line.text):
            role = "list"
        current = segments[-1] if segments else None
        continues = (
            current is not None
            and not marks.starts[i]
            and (current.role == role or (current.role == "list" and role == "paragraph"))
            and not (current.page != line.page and role != "paragraph")
        )
        if continues and current is not None:
            current.lines.append(line)
        elif (
            current is not None
            and current.role == "section_header"
            and role == "section_header"
            and line.text.strip()
            and current.page == line.page
            and abs(line.height - current.lines[-1].height) < 0.2 * line.height
        ):
            current.lines.append(line)  # a header wrapped over two lines
        else:
            segments.append(Segment(role, [line]))
    # A line with no text never makes a row of its own: it joins its neighbour.
    kept: list[Segment] = []
    for piece in segments:
        if not piece.text and kept:
            kept[-1].lines += piece.lines
        else:
            kept.append(piece)
    if len(kept) > 1 and not kept[0].text:
        kept[1].lines = kept[0].lines + kept[1].lines
        kept = kept[1:]
    return kept


def _by_layout(lines: list[Line]) -> list[Segment]:
    """One row per LAYOUT_* block, in the response's reading order; lines outside any
    block are split by spacing."""
    segments: list[Segment] = []
    by_block: dict[str, Segment] = {}
    loose: list[Line] = []

    def flush() -> None:
        if loose:
            marks = spacing(loose)
            segments.extend(_assemble(list(loose), marks, list_items=False))
            loose.clear()

    for line in sorted(lines, key=lambda ln: (ln.page, ln.order)):
        if line.layout_id is None:
            loose.append(line)
            continue
        flush()
        block = by_block.get(line.layout_id)
        if block is None:
            role = LAYOUT_ROLES.get(line.layout or "", "paragraph")
            block = by_block[line.layout_id] = Segment(role, [])
            segments.append(block)
        block.lines.append(line)
    flush()
    _name_headers(segments, find_title=False)  # Textract said which block is a title
    return segments


def _name_headers(segments: list[Segment], find_title: bool = True) -> None:
    """With ``find_title``, the first header of the document becomes its title when it is
    the tallest one; every row gets the header it sits under."""
    headers = [s for s in segments if s.role in HEADERS]
    if find_title and headers and all(s.role == "section_header" for s in headers):
        first = headers[0]
        tallest = max(statistics.median([ln.height for ln in s.lines]) for s in headers)
        if first.page == 1 and statistics.median([ln.height for ln in first.lines]) >= tallest:
            first.role = "title"
    current: str | None = None
    for piece in segments:
        if piece.role in HEADERS:
            current = piece.text or current
            piece.header = None
        elif piece.role in ("page_header", "page_footer", "page_number"):
            piece.header = None
        else:
            piece.header = current


# -- to the lake ------------------------------------------------------------------------


def bounding_box(lines: list[Line]) -> tuple[float, float, float, float]:
    left = min(line.left for line in lines)
    top = min(line.top for line in lines)
    right = max(line.right for line in lines)
    bottom = max(line.bottom for line in lines)
    return left, top, right - left, bottom - top


def paragraphs_table(
    doc_id: str,
    segments: list[Segment],
    technique: str,
    sentiments: list[dict[str, Any] | None] | None = None,
) -> pa.Table:
    """`paragraphs` rows for one document's segments (and their sentiment, when given)."""
    rows = []
    for number, piece in enumerate(segments, 1):
        left, top, width, height = bounding_box(piece.lines)
        scored = (sentiments[number - 1] if sentiments else None) or {}
        scores = scored.get("scores") or {}
        rows.append(
            {
                "doc_id": doc_id,
                "page": piece.page,
                "paragraph_no": number,
                "role": piece.role,
                "header": piece.header,
                "text": piece.text,
                "technique": technique,
                "sentiment": scored.get("sentiment"),
                "score_positive": scores.get("Positive"),
                "score_negative": scores.get("Negative"),
                "score_neutral": scores.get("Neutral"),
                "score_mixed": scores.get("Mixed"),
                "box_left": left,
                "top": top,
                "width": width,
                "height": height,
                "line_ids": [line.id for line in piece.lines],
            }
        )
    return pa.Table.from_pylist(rows, schema=get_table("paragraphs").schema)
