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
- ``auto``: layout when the response has it. Otherwise paragraphs are blocks of lines
  found from where the lines sit (``blocks``): a line runs on into the line right below
  it when the two are close (at most 0.7 of a line height apart), of a like height and
  share some width, and neither has another line between them, and a label with an
  amount right beside it is not joined to a line without one. So lines side by side
  (two columns, a table's cells) never share a paragraph. A block ends early at a short
  line that ends a sentence, an indented first line, a list item, or a short opening
  line above a line of prose twice as wide (a header); a block that ends mid-sentence
  goes on at the head of the next column or page when that starts in lower case. Single
  lines side by side in three or more aligned rows are one ``table`` row. Headers are
  blocks of one or two lines set taller than the body, or short lines ending no sentence
  with a paragraph right below.
"""

from __future__ import annotations

import bisect
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
FIGURE = re.compile(r"[-+(]?[$\u20ac\u00a3]?\s?\d[\d.,/:\s-]*%?\)?")  # an amount, a date, a count
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
    order: list[int] | None = None  # the lines' order, when the technique reorders them
    table: list[bool] | None = None  # lines of a table


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


LINE_GAP = 0.7  # most space between two lines of a paragraph, in line heights
HEIGHT_RATIO = 1.35  # lines of one paragraph differ less than this in height
CELL_WIDTH = 0.25  # the widest line a table cell has, as a share of the page


def _overlap(a: Line, b: Line) -> float:
    return min(a.right, b.right) - max(a.left, b.left)


def _below(lines: list[Line]) -> tuple[dict[int, int], set[int]]:
    """For each line, the line right below it on its page that it runs on into: the
    nearest line below that shares some of its width, when that line's nearest line
    above is this one too, close enough and of a like height. Also the lines with a line
    of a like height less than three lines above them (not the head of a column)."""
    covered: set[int] = set()
    nearest_below: dict[int, tuple[float, int]] = {}
    nearest_above: dict[int, tuple[float, int]] = {}
    by_page: dict[int, list[int]] = {}
    for i, line in enumerate(lines):
        by_page.setdefault(line.page, []).append(i)
    for idx in by_page.values():
        idx.sort(key=lambda i: lines[i].top)
        for x, j in enumerate(idx):
            b = lines[j]
            for k in range(x - 1, -1, -1):  # upwards from b, until well above it
                i = idx[k]
                a = lines[i]
                if a.bottom < b.top - 3 * b.height:
                    if a.top < b.top - 6 * b.height:
                        break
                    continue
                if _overlap(a, b) <= 0 or a.top >= b.top:
                    continue
                gap = b.top - a.bottom
                if gap < -0.5 * min(a.height, b.height):
                    continue  # side by side rather than one above the other
                if max(a.height, b.height) <= HEIGHT_RATIO * min(a.height, b.height):
                    covered.add(j)
                if j not in nearest_above or gap < nearest_above[j][0]:
                    nearest_above[j] = (gap, i)
                if i not in nearest_below or gap < nearest_below[i][0]:
                    nearest_below[i] = (gap, j)
    paired = _with_value(lines, by_page)
    links = {}
    for i, (gap, j) in nearest_below.items():
        if paired[i] != paired[j]:
            continue
        a, b = lines[i], lines[j]
        low, high = sorted((a.height, b.height))
        if (
            nearest_above.get(j, (0.0, -1))[1] == i
            and gap <= LINE_GAP * low
            and high <= HEIGHT_RATIO * low
        ):
            links[i] = j
    return links, covered


def _with_value(lines: list[Line], by_page: dict[int, list[int]]) -> list[bool]:
    """Lines with a figure right beside them on their right (a label and its amount)."""
    result = [False] * len(lines)
    for idx in by_page.values():
        figures = sorted(
            (j for j in idx if lines[j].width <= 0.12 and FIGURE.fullmatch(lines[j].text.strip())),
            key=lambda j: lines[j].top,
        )
        tops = [lines[j].top for j in figures]
        for i in idx:
            a = lines[i]
            start = bisect.bisect_left(tops, a.top - a.height)
            for j in figures[start : bisect.bisect_right(tops, a.bottom)]:
                b = lines[j]
                shared = min(a.bottom, b.bottom) - max(a.top, b.top)
                if 0 < b.left - a.right < 0.3 and shared >= 0.5 * min(a.height, b.height):
                    result[i] = True
                    break
    return result


def _breaks(a: Line, b: Line, edge: float, right: float, first: bool) -> bool:
    """A paragraph ends at ``a`` though ``b`` runs on below it: ``a`` is a short line that
    ends a sentence, ``b`` starts indented, ``b`` is a list item, or ``a`` opens its block
    as a short line that ends no sentence above one twice as wide (a header)."""
    height = min(a.height, b.height)
    text = a.text.rstrip()
    short_end = SENTENCE_END.search(text) is not None and a.right < right - 2 * height
    indented = b.left > edge + 0.8 * height and b.left > a.left + 0.8 * height
    heading = (
        first
        and a.width < 0.5 * b.width
        and len(b.text.split()) >= 6  # a line of prose below, not an address or a list
        and len(text.split()) <= 12
        and not SENTENCE_END.search(text)
        and not text.endswith(("-", ",", ";", ":"))
        and not LIST_ITEM.match(text)
    )
    return short_end or indented or heading or LIST_ITEM.match(b.text) is not None


def _continues(a: list[Line], b: list[Line], head: bool) -> bool:
    """Block ``b`` goes on with block ``a``'s sentence at the ``head`` of the next column
    or page: ``a`` ends mid-sentence, ``b`` starts in lower case, in text of a like
    height."""
    last, first = a[-1], b[0]
    low, high = sorted((last.height, first.height))
    next_column = first.page > last.page or first.top < last.top
    return (
        head
        and next_column
        and len(a) > 1
        and high <= HEIGHT_RATIO * low
        and not SENTENCE_END.search(last.text.rstrip())
        and first.text[:1].islower()
    )


def blocks(lines: list[Line]) -> list[list[int]]:
    """Lines grouped into paragraphs by where they sit: each line runs on into the line
    right below it (close, of a like height, sharing some width, neither with another
    line in between), unless a paragraph ends there. Lines side by side, in two columns or
    in a table's cells, never share a block. Blocks come in reading order."""
    links, covered = _below(lines)
    chains: list[list[int]] = []
    has_above = set(links.values())
    for start in sorted(set(range(len(lines))) - has_above):
        chain = [start]
        while chain[-1] in links:
            chain.append(links[chain[-1]])
        chains.append(chain)
    result: list[list[int]] = []
    for chain in chains:
        edge = min(lines[i].left for i in chain)
        right = max(lines[i].right for i in chain)
        current = [chain[0]]
        for i, j in zip(chain, chain[1:], strict=False):
            if _breaks(lines[i], lines[j], edge, right, first=len(current) == 1):
                result.append(current)
                current = []
            current.append(j)
        result.append(current)
    rank = {line.id: n for n, line in enumerate(reading_order(lines))}
    result.sort(key=lambda block: min(rank[lines[i].id] for i in block))
    merged: list[list[int]] = []
    for block in result:
        if merged and _continues(
            [lines[i] for i in merged[-1]], [lines[i] for i in block], block[0] not in covered
        ):
            merged[-1] = merged[-1] + block
        else:
            merged.append(block)
    return merged


def tables(lines: list[Line], groups: list[list[int]]) -> list[set[int]]:
    """Which blocks make up a table: single lines no wider than a quarter of the page
    that sit side by side in rows (sharing at least half a line's height), in three or
    more rows one under another with at least two cells in line with the row above.
    Returns sets of block numbers."""
    small = sorted(
        (
            n
            for n, block in enumerate(groups)
            if len(block) == 1 and lines[block[0]].width <= CELL_WIDTH
        ),
        key=lambda n: (lines[groups[n][0]].page, lines[groups[n][0]].top),
    )
    span = {
        n: (
            min(lines[i].left for i in groups[n]),
            min(lines[i].top for i in groups[n]),
            max(lines[i].right for i in groups[n]),
            max(lines[i].bottom for i in groups[n]),
        )
        for n in range(len(groups))
    }
    page = {n: lines[groups[n][0]].page for n in range(len(groups))}
    parent = {n: n for n in small}

    def find(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    in_row: set[int] = set()
    for x, m in enumerate(small):
        for n in small[x + 1 :]:  # by page and top: the lines that start above m's end
            (l1, t1, r1, b1), (l2, t2, r2, b2) = span[m], span[n]
            if page[n] != page[m] or t2 > b1:
                break
            height = min(lines[groups[m][0]].height, lines[groups[n][0]].height)
            if min(b1, b2) - max(t1, t2) >= 0.5 * height and (r1 <= l2 or r2 <= l1):
                parent[find(m)] = find(n)
                in_row.update((m, n))
    rows: dict[int, list[int]] = {}
    for n in in_row:
        rows.setdefault(find(n), []).append(n)
    ordered = sorted(rows.values(), key=lambda row: (page[row[0]], min(span[n][1] for n in row)))
    tables_: list[list[list[int]]] = []
    for row in ordered:
        top = min(span[n][1] for n in row)
        height = statistics.median(lines[groups[n][0]].height for n in row)
        if tables_:
            last = tables_[-1][-1]
            bottom = max(span[n][3] for n in last)
            left = min(span[n][0] for n in row), max(span[n][2] for n in row)
            above = min(span[n][0] for n in last), max(span[n][2] for n in last)
            aligned = sum(
                any(min(span[n][2], span[m][2]) > max(span[n][0], span[m][0]) for m in last)
                for n in row
            )
            if (
                page[last[0]] == page[row[0]]
                and top - bottom <= 2.5 * height
                and min(left[1], above[1]) > max(left[0], above[0])
                and aligned >= 2
            ):
                tables_[-1].append(row)
                continue
        tables_.append([row])
    return [{n for row in table for n in row} for table in tables_ if len(table) >= 3]


def combined(lines: list[Line]) -> Marks:
    """Paragraphs as blocks of lines (``blocks``). A block of one or two lines is a header
    when it is set taller than the body, or when it is short, ends no sentence and has a
    paragraph right below it that starts further right or runs twice as wide. The lines
    come back in the blocks' order (``Marks.order``)."""
    groups = blocks(lines)
    table_of: dict[int, int] = {}
    for number, members in enumerate(tables(lines, groups)):
        for n in members:
            table_of[n] = number
    joined: list[list[int]] = []
    placed: dict[int, int] = {}
    for n, block in enumerate(groups):
        if n in table_of and table_of[n] in placed:
            joined[placed[table_of[n]]] += block
        else:
            if n in table_of:
                placed[table_of[n]] = len(joined)
            joined.append(list(block))
    table_rows = set(placed.values())
    groups = joined
    order = [i for block in groups for i in block]
    taller = taller_than_body(lines)
    headers = [False] * len(lines)
    starts = [False] * len(lines)
    table = [False] * len(lines)
    for n in table_rows:
        for i in groups[n]:
            table[i] = True
    for n, block in enumerate(groups):
        starts[block[0]] = True
        if len(block) > 2 or n in table_rows:
            continue
        own = [lines[i] for i in block]
        text = join_lines([line.text for line in own])
        below = groups[n + 1] if n + 1 < len(groups) else None
        set_above = False
        if below is not None:
            under = [lines[i] for i in below]
            gap = under[0].top - own[-1].bottom
            set_above = (
                under[0].page == own[0].page
                and -0.5 * own[-1].height < gap < 3 * own[-1].height
                and (
                    min(ln.left for ln in own) < min(ln.left for ln in under) - 0.01
                    or max(ln.width for ln in own) < 0.5 * max(ln.width for ln in under)
                )
            )
        short = (
            len(text.split()) <= 12 and not SENTENCE_END.search(text) and not LIST_ITEM.match(text)
        )
        if all(taller[i] for i in block) or (short and set_above):
            for i in block:
                headers[i] = True
    return Marks(
        [headers[i] for i in order], [starts[i] for i in order], order, [table[i] for i in order]
    )


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
    if marks.order is not None:
        body = [body[i] for i in marks.order]
    segments: list[Segment] = []
    body_segments = _assemble(
        body, marks, list_items=technique == "auto", blocks=marks.order is not None
    )
    # Page furniture goes back in page order: a header before the page, a footer after.
    by_page: dict[int, list[Segment]] = {}
    for piece in body_segments:
        by_page.setdefault(piece.page, []).append(piece)
    for page in sorted({line.page for line in ordered}):
        furniture_rows: list[Segment] = []
        for ln in ordered:
            if ln.page != page or ln.id not in furniture:
                continue
            last = furniture_rows[-1] if furniture_rows else None
            if (
                last is not None
                and last.role == furniture[ln.id]
                and 0 <= ln.top - last.lines[-1].bottom <= LINE_GAP * ln.height
                and _overlap(last.lines[-1], ln) > 0
            ):
                last.lines.append(ln)  # a header or footer of more than one line
            else:
                furniture_rows.append(Segment(furniture[ln.id], [ln]))
        above = [s for s in furniture_rows if _heads_page(s)]
        segments += above
        segments += by_page.get(page, [])
        segments += [s for s in furniture_rows if not _heads_page(s)]
    _name_headers(segments)
    return segments


def _heads_page(piece: Segment) -> bool:
    """Whether a page header, footer or page number goes before the page's text."""
    if piece.role == "page_number":
        return piece.lines[0].top < 0.5
    return piece.role == "page_header"


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


def _assemble(
    body: list[Line], marks: Marks, list_items: bool, blocks: bool = False
) -> list[Segment]:
    """Rows from marked lines. With ``blocks``, the marks start every row; otherwise a
    header line right under another of its height continues it (a wrapped header)."""
    segments: list[Segment] = []
    for i, line in enumerate(body):
        role = "section_header" if marks.header[i] else "paragraph"
        if marks.table is not None and marks.table[i]:
            role = "table"
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
            and not blocks
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
