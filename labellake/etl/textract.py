"""Textract responses -> lines in reading order.

Text detection (Textract, a PDF's text layer, OCR) hands back Textract's response
format; this module reads it, whatever its shape (sync or async, one response or
its NextToken pages, with or without `Page`, with or without LAYOUT_* blocks).
Each page's columns are found and read left to right, running page headers,
footers and page numbers are told apart, and lines are joined with a space (a
word hyphenated at a line end is joined whole). `paragraphs.py` splits the lines.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from labellake.errors import LabellakeError

MARGIN_BAND = 0.07  # top and bottom share of a page where running headers and footers sit
FURNITURE_GAP = 2.0  # body line heights of empty space that set a page header or footer apart
FURNITURE_LINES = 12  # the most lines a page header or footer has
PAGE_NUMBER = re.compile(r"^\s*(page\s+)?\d{1,4}(\s*(/|of)\s*\d{1,4})?\s*$", re.IGNORECASE)


class DocumentError(LabellakeError):
    """A document that cannot be read or split; recorded against the document."""


@dataclass(frozen=True)
class Line:
    """One LINE block, with its place on the page (fractions of the page)."""

    id: str
    text: str
    page: int
    left: float
    top: float
    width: float
    height: float
    order: int  # position in the response
    layout: str | None = None  # LAYOUT_* block type holding it
    layout_id: str | None = None

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


def blocks_of(response: Any) -> list[dict[str, Any]]:
    """Every block of a response, or of a list of NextToken pages of one."""
    pages = response if isinstance(response, list) else [response]
    blocks: list[dict[str, Any]] = []
    for number, page in enumerate(pages, 1):
        if not isinstance(page, dict) or not isinstance(page.get("Blocks", []), list):
            raise DocumentError(
                f"response {number}: not a Textract response (an object with 'Blocks')"
            )
        blocks += [b for b in page.get("Blocks", []) if isinstance(b, dict)]
    return blocks


def read_lines(response: Any) -> list[Line]:
    """The LINE blocks of a Textract response, with page numbers and layout types."""
    blocks = blocks_of(response)
    page_of: dict[str, int] = {}
    pages = [b for b in blocks if b.get("BlockType") == "PAGE"]
    for number, page in enumerate(pages, 1):
        for child in _children(page):
            page_of[child] = int(page.get("Page") or number)
    layout_of: dict[str, tuple[str, str]] = {}
    for block in blocks:
        kind = str(block.get("BlockType", ""))
        if kind.startswith("LAYOUT_"):
            for child in _children(block):
                layout_of.setdefault(child, (kind, str(block.get("Id"))))
    # A layout block inside another (LAYOUT_LIST holds a LAYOUT_TEXT per item): its lines
    # belong to the outermost one.
    for line_id, (kind, block_id) in list(layout_of.items()):
        seen = {block_id}
        while block_id in layout_of and layout_of[block_id][1] not in seen:
            kind, block_id = layout_of[block_id]
            seen.add(block_id)
        layout_of[line_id] = (kind, block_id)
    lines = []
    for block in blocks:
        if block.get("BlockType") != "LINE":
            continue
        box = (block.get("Geometry") or {}).get("BoundingBox") or {}
        line_id = str(block.get("Id") or f"line-{len(lines) + 1}")
        # A sync response has no Page; an async one always does.
        page = block.get("Page") or page_of.get(line_id) or 1
        layout = layout_of.get(line_id)
        lines.append(
            Line(
                id=line_id,
                text=str(block.get("Text") or ""),
                page=int(page),
                left=float(box.get("Left") or 0.0),
                top=float(box.get("Top") or 0.0),
                width=float(box.get("Width") or 0.0),
                height=float(box.get("Height") or 0.0),
                order=len(lines),
                layout=layout[0] if layout else None,
                layout_id=layout[1] if layout else None,
            )
        )
    if not lines:
        raise DocumentError("the response has no LINE blocks: no text was detected")
    return lines


def _children(block: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    for relation in block.get("Relationships") or []:
        if isinstance(relation, dict) and relation.get("Type") == "CHILD":
            ids += [str(i) for i in relation.get("Ids") or []]
    return ids


def has_layout(lines: Iterable[Line]) -> bool:
    return any(line.layout for line in lines)


# -- joining text -----------------------------------------------------------------------


def join_lines(texts: Iterable[str]) -> str:
    """Lines joined with a space; a word hyphenated at a line end is joined whole.

    >>> join_lines(["The labeling infor-", "mation was   kept.", "", "Done"])
    'The labeling information was kept. Done'
    """
    joined = ""
    for raw in texts:
        text = " ".join(raw.split())
        if not text:
            continue
        if re.search(r"[A-Za-z]-$", joined) and text[:1].islower():
            joined = joined[:-1] + text
        else:
            joined = f"{joined} {text}" if joined else text
    return joined


# -- preparing lines: margins and reading order ------------------------------------------


def page_furniture(lines: list[Line]) -> dict[str, str]:
    """Roles of running page headers, footers and page numbers, by line id.

    A page's header is the group of lines at the top of its text, set apart from the rest
    by an empty band at least two body lines high, within the top 8% of the text's height
    and of at most 12 lines; its footer is such a group at the bottom, below 80% of the
    text's height. Lines in the page's top or bottom band whose text (digits aside)
    recurs there on another page are headers and footers too; those that read like a
    page number are page numbers.
    """
    roles: dict[str, str] = {}
    if not lines:
        return roles
    body_height = statistics.median([line.height for line in lines])
    pages: dict[int, list[Line]] = {}
    for line in lines:
        pages.setdefault(line.page, []).append(line)
    for on_page in pages.values():
        groups = _bands(on_page, gap=FURNITURE_GAP * body_height)
        if len(groups) < 2:
            continue
        top = min(line.top for line in on_page)
        span = max(line.bottom for line in on_page) - top
        first, last = groups[0], groups[-1]
        if len(first) <= FURNITURE_LINES and max(ln.bottom for ln in first) - top <= 0.08 * span:
            roles.update((line.id, "page_header") for line in first)
        if len(last) <= FURNITURE_LINES and min(ln.top for ln in last) - top >= 0.8 * span:
            roles.update((line.id, "page_footer") for line in last)

    def key(line: Line) -> str:
        return re.sub(r"\d+", "#", " ".join(line.text.lower().split()))

    top_band = [ln for ln in lines if ln.bottom <= MARGIN_BAND]
    bottom_band = [ln for ln in lines if ln.top >= 1 - MARGIN_BAND]
    for band, role in ((top_band, "page_header"), (bottom_band, "page_footer")):
        seen: dict[str, set[int]] = {}
        for line in band:
            seen.setdefault(key(line), set()).add(line.page)
        for line in band:
            if len(pages) > 1 and len(seen[key(line)]) > 1:
                roles[line.id] = role
    for line in lines:
        if PAGE_NUMBER.match(line.text) and (
            line.id in roles or line.bottom <= MARGIN_BAND or line.top >= 1 - MARGIN_BAND
        ):
            roles[line.id] = "page_number"
    return roles


def _bands(lines: list[Line], gap: float) -> list[list[Line]]:
    """A page's lines, top to bottom, in groups split where an empty band at least
    ``gap`` high runs across the whole page."""
    groups: list[list[Line]] = []
    lowest = 0.0
    for line in sorted(lines, key=lambda ln: ln.top):
        if not groups or line.top - lowest > gap:
            groups.append([])
        groups[-1].append(line)
        lowest = max(lowest, line.bottom) if len(groups[-1]) > 1 else line.bottom
    return groups


def columns(lines: list[Line]) -> list[float]:
    """The x positions of the gutters between a page's text columns (none: one column).

    A gutter is a vertical strip that no line crosses, with lines on both sides over a
    good part of the page; lines that span it (a title over two columns) are few.
    """
    if len(lines) < 6:
        return []
    bins = 200
    cover = [0] * bins
    for line in lines:
        for b in range(int(line.left * bins), min(bins, int(line.right * bins) + 1)):
            cover[b] += 1
    gutters = []
    b = int(0.2 * bins)
    while b < int(0.8 * bins):
        if cover[b] <= max(1, len(lines) // 20):
            start = b
            while b < int(0.8 * bins) and cover[b] <= max(1, len(lines) // 20):
                b += 1
            middle = (start + b) / 2 / bins
            left = [ln for ln in lines if ln.right <= middle]
            right = [ln for ln in lines if ln.left >= middle]
            if len(left) >= 3 and len(right) >= 3:
                gutters.append(middle)
        b += 1
    return gutters


def column_of(line: Line, gutters: list[float]) -> int | None:
    """Which column the line sits in (from 0); None when it spans a gutter."""
    for number, gutter in enumerate(gutters):
        if line.left < gutter < line.right:
            return None
        if line.right <= gutter:
            return number
    return len(gutters)


def reading_order(lines: list[Line]) -> list[Line]:
    """Lines in the order a person reads them: page by page; on each page, bands of
    full-width lines and, between them, each column top to bottom, left to right."""
    ordered: list[Line] = []
    for page in sorted({line.page for line in lines}):
        on_page = sorted((ln for ln in lines if ln.page == page), key=lambda ln: (ln.top, ln.left))
        gutters = columns(on_page)
        if not gutters:
            ordered += on_page
            continue

        band: list[Line] = []
        for line in on_page:
            if column_of(line, gutters) is None:
                ordered += sorted(band, key=lambda ln: (column_of(ln, gutters) or 0, ln.top))
                ordered.append(line)
                band = []
            else:
                band.append(line)
        ordered += sorted(band, key=lambda ln: (column_of(ln, gutters) or 0, ln.top))
    return ordered
