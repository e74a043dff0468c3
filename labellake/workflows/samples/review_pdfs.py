"""Sample documents: product review reports as PDFs whose structure is known.

Each PDF is drawn line by line (reportlab) in one of four layouts, and the
generator hands back the truth: every row the document should split into (title,
section headers, paragraphs, running page headers and page numbers), and every
line it drew with the row it belongs to. Words that do not fit at a line end are
sometimes hyphenated, as typesetters do. Same seed, same documents.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

LAYOUTS = ("font", "indent", "two_column", "spacing")
PAGE_W, PAGE_H = 612.0, 792.0  # US letter, points
MARGIN = 72.0
RUNNING_HEADER = "Product review digest"

POSITIVE = (
    "The battery easily lasts through a long weekend of shooting.",
    "Setup took five minutes and everything worked on the first try.",
    "The screen is bright, sharp and pleasant to read outdoors.",
    "Support answered within an hour and solved the problem at once.",
    "It feels solid and well made, and it is a joy to use every day.",
    "Autofocus is fast and accurate even in dim evening light.",
    "For the price, this is an excellent and dependable choice.",
    "The companion application is simple, quick and reliable.",
)
NEGATIVE = (
    "The charger stopped working after barely two weeks.",
    "Images come out soft and noisy as soon as the light drops.",
    "The menus are confusing and the manual does not help at all.",
    "Customer service ignored three emails and never refunded me.",
    "The strap broke on the first trip and the lens cap is flimsy.",
    "It overheats during video and shuts down without warning.",
    "Shipping was slow and the box arrived crushed and damaged.",
    "The application crashes constantly and loses my settings.",
)
NEUTRAL = (
    "The camera ships with a strap, a charger and a short cable.",
    "It weighs about four hundred grams with the battery inserted.",
    "The body is available in black and in silver.",
    "Firmware updates are installed through the companion application.",
    "The lens mount accepts the older adapters as well.",
    "Most of the photographs in this review were taken in the city.",
)
SECTIONS = (
    "Battery life",
    "Image quality",
    "Handling",
    "Software",
    "Customer support",
    "Value",
    "Build",
    "Shipping",
)


@dataclass
class Row:
    """One row the document should split into."""

    role: str
    text: str
    sentiment: str | None = None  # POSITIVE, NEGATIVE or NEUTRAL for paragraphs


@dataclass
class DrawnLine:
    page: int
    top: float  # fraction of the page height
    text: str
    row: int  # index into Sample.rows


@dataclass
class Sample:
    layout: str
    rows: list[Row] = field(default_factory=list)
    lines: list[DrawnLine] = field(default_factory=list)


def _paragraph(rng: random.Random) -> tuple[str, str]:
    mood = rng.choice(("POSITIVE", "NEGATIVE", "NEUTRAL"))
    pool = {"POSITIVE": POSITIVE, "NEGATIVE": NEGATIVE, "NEUTRAL": NEUTRAL}[mood]
    sentences = rng.sample(pool, rng.randint(2, 4))
    if mood != "NEUTRAL" and rng.random() < 0.5:
        sentences.insert(rng.randint(0, len(sentences)), rng.choice(NEUTRAL))
    return " ".join(sentences), mood


def _wrap(text: str, font: str, size: float, width: float, rng: random.Random) -> list[str]:
    """Lines of at most ``width`` points; a long word at a line end may be hyphenated."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if stringWidth(candidate, font, size) <= width:
            current = candidate
            continue
        if len(word) >= 8 and word.isalpha() and rng.random() < 0.5:
            for cut in range(len(word) - 3, 2, -1):
                head = f"{current} {word[:cut]}-" if current else f"{word[:cut]}-"
                if stringWidth(head, font, size) <= width:
                    lines.append(head)
                    current = word[cut:]
                    break
            else:
                lines.append(current)
                current = word
            continue
        lines.append(current)
        current = word
    if current:
        lines.append(current)
    return lines


def write_pdf(path: Path, layout: str, seed: int = 0, sections: int = 5) -> Sample:
    """Write a review report in ``layout`` to ``path``; returns its known structure."""
    from reportlab.pdfgen.canvas import Canvas

    if layout not in LAYOUTS:
        raise ValueError(f"layout '{layout}': use one of {', '.join(LAYOUTS)}")
    rng = random.Random(f"{layout}-{seed}")
    sample = Sample(layout)
    canvas = Canvas(str(path), pagesize=(PAGE_W, PAGE_H))
    body_font, body_size, leading = "Helvetica", 10.0, 13.0
    header_font = "Helvetica-Bold"
    header_size = {"font": 14.0, "indent": 10.0, "two_column": 13.0, "spacing": 10.0}[layout]
    paragraph_gap = {"font": 0.0, "indent": 0.0, "two_column": 6.0, "spacing": 9.0}[layout]
    if layout == "two_column":
        gutter = 24.0
        col_w = (PAGE_W - 2 * MARGIN - gutter) / 2
        column_lefts = [MARGIN, MARGIN + col_w + gutter]
    else:
        col_w = PAGE_W - 2 * MARGIN
        column_lefts = [MARGIN]
    body_indent = 24.0 if layout == "indent" else 0.0
    page = 1
    column = 0
    y = MARGIN

    def draw(text: str, font: str, size: float, x: float, row: int) -> None:
        canvas.setFont(font, size)
        canvas.drawString(x, PAGE_H - y - size, text)
        sample.lines.append(DrawnLine(page, y / PAGE_H, text, row))

    def furniture() -> None:
        canvas.setFont("Helvetica", 8)
        canvas.drawString(MARGIN, PAGE_H - 40, RUNNING_HEADER)
        sample.rows.append(Row("page_header", RUNNING_HEADER))
        sample.lines.append(
            DrawnLine(page, (40 - 8) / PAGE_H, RUNNING_HEADER, len(sample.rows) - 1)
        )

    def page_number() -> None:
        canvas.setFont("Helvetica", 8)
        canvas.drawString(PAGE_W / 2, 30, str(page))
        sample.rows.append(Row("page_number", str(page)))
        sample.lines.append(
            DrawnLine(page, (PAGE_H - 30 - 8) / PAGE_H, str(page), len(sample.rows) - 1)
        )

    def room(height: float) -> None:
        nonlocal y, column, page
        if y + height <= PAGE_H - MARGIN:
            return
        if column + 1 < len(column_lefts):
            column += 1
            y = top_of_columns
            return
        page_number()
        canvas.showPage()
        page += 1
        column = 0
        y = MARGIN
        furniture()

    furniture()
    brand = rng.choice(("Aurora", "Kestrel", "Summit", "Harbor"))
    title = f"Review of the {brand} X{rng.randint(2, 9)} camera"
    sample.rows.append(Row("title", title))
    for text in _wrap(title, header_font, 20.0, PAGE_W - 2 * MARGIN, rng):
        draw(text, header_font, 20.0, MARGIN, len(sample.rows) - 1)
        y += 26.0
    y += 10.0
    top_of_columns = y
    for name in rng.sample(SECTIONS, sections):
        room(header_size + leading * 3)
        left = column_lefts[column]
        sample.rows.append(Row("section_header", name))
        draw(name, header_font, header_size, left, len(sample.rows) - 1)
        y += header_size + 5.0
        for _ in range(rng.randint(1, 2)):
            text, mood = _paragraph(rng)
            sample.rows.append(Row("paragraph", text, mood))
            index = len(sample.rows) - 1
            for line in _wrap(text, body_font, body_size, col_w - body_indent, rng):
                room(leading)
                draw(line, body_font, body_size, column_lefts[column] + body_indent, index)
                y += leading
            y += paragraph_gap
        y += 8.0 if layout != "spacing" else paragraph_gap
    page_number()
    canvas.showPage()
    canvas.save()
    return sample
