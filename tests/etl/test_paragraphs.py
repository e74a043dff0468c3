"""Reading Textract responses and splitting their lines into headers and paragraphs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from labellake.etl import paragraphs, textract
from labellake.etl.textract import DocumentError, Line

EXAMPLES = Path(__file__).parents[1] / "fixtures/examples"
BODY_H = 0.012


def page_lines(
    spec: list[tuple[str, float, float, float]], page: int = 1, start: int = 0
) -> list[Line]:
    """Lines from (text, left, top, height) tuples; width from the text length."""
    return [
        Line(
            id=f"l{start + i + 1}",
            text=text,
            page=page,
            left=left,
            top=top,
            width=min(0.9 - left, 0.0105 * len(text)),
            height=height,
            order=start + i,
        )
        for i, (text, left, top, height) in enumerate(spec)
    ]


def rows(segments: list[paragraphs.Segment]) -> list[tuple[str, str]]:
    return [(s.role, s.text) for s in segments]


def every_line_once(lines: list[Line], segments: list[paragraphs.Segment]) -> bool:
    ids = [line.id for s in segments for line in s.lines]
    return sorted(ids) == sorted(line.id for line in lines) and len(ids) == len(set(ids))


def test_read_the_example_responses() -> None:
    detect = json.loads((EXAMPLES / "textract-detect-text.json").read_text())
    lines = textract.read_lines(detect)
    assert [ln.text for ln in lines] == [
        "The Long Drive Home",
        "A warm, funny film that never overstays",
        "its welcome.",
    ]
    assert {ln.page for ln in lines} == {1}
    layout = textract.read_lines(
        json.loads((EXAMPLES / "textract-analyze-layout.json").read_text())
    )
    assert [ln.layout for ln in layout] == ["LAYOUT_TITLE", "LAYOUT_TEXT", "LAYOUT_TEXT"]
    assert rows(paragraphs.segment(layout, "auto")) == [
        ("title", "Quarterly Review"),
        ("paragraph", "Labeling throughput rose by a third while the audit pass rate held steady."),
    ]


def test_responses_without_page_and_in_nexttoken_pages() -> None:
    detect = json.loads((EXAMPLES / "textract-detect-text.json").read_text())
    no_page = copy.deepcopy(detect)
    for block in no_page["Blocks"]:
        block.pop("Page", None)
    assert {ln.page for ln in textract.read_lines(no_page)} == {1}
    second = copy.deepcopy(detect)
    for block in second["Blocks"]:
        block["Page"] = 2
        block["Id"] = "p2-" + block["Id"]
    paged = textract.read_lines([detect, second])
    assert [ln.page for ln in paged] == [1, 1, 1, 2, 2, 2]


@pytest.mark.parametrize(
    "response",
    [{"Blocks": []}, {"Blocks": [{"BlockType": "PAGE", "Id": "p"}]}, [{"JobStatus": "SUCCEEDED"}]],
)
def test_no_line_blocks_is_a_document_error(response: object) -> None:
    with pytest.raises(DocumentError, match="no LINE blocks"):
        textract.read_lines(response)


def test_not_a_response_says_so() -> None:
    with pytest.raises(DocumentError, match="not a Textract response"):
        textract.read_lines(["nope"])


# A review with a title, two sections (the same header twice), body lines at 0.15.
FONT = [
    ("Great Product", 0.15, 0.08, 0.030),
    ("I bought this camera last spring and it has", 0.15, 0.13, BODY_H),
    ("worked every single day since then.", 0.15, 0.145, BODY_H),
    ("Battery", 0.15, 0.18, 0.020),
    ("The battery lasts two full days of shooting", 0.15, 0.21, BODY_H),
    ("which is wonderful.", 0.15, 0.225, BODY_H),
    ("Battery", 0.15, 0.26, 0.020),
    ("The charger broke after a week", 0.15, 0.29, BODY_H),
]


def test_font_headers_are_the_taller_lines() -> None:
    lines = page_lines(FONT)
    segments = paragraphs.segment(lines, "font")
    assert rows(segments) == [
        ("title", "Great Product"),
        (
            "paragraph",
            "I bought this camera last spring and it has worked every single day since then.",
        ),
        ("section_header", "Battery"),
        ("paragraph", "The battery lasts two full days of shooting which is wonderful."),
        ("section_header", "Battery"),  # a repeated header is its own row
        ("paragraph", "The charger broke after a week"),  # the last line is kept
    ]
    assert [s.header for s in segments] == [None, "Great Product", None, "Battery", None, "Battery"]
    assert every_line_once(lines, segments)


INDENT = [
    ("Summary", 0.10, 0.08, BODY_H),
    ("Labeling went well this quarter and the", 0.15, 0.10, BODY_H),
    ("auditors were pleased.", 0.15, 0.115, BODY_H),
    ("Risks", 0.11, 0.14, BODY_H),
    ("Two vendors missed their deadlines.", 0.15, 0.16, BODY_H),
    ("Costs rose.", 0.15, 0.175, BODY_H),
]


def test_indent_headers_start_left_of_the_body() -> None:
    segments = paragraphs.segment(page_lines(INDENT), "indent")
    assert rows(segments) == [
        ("title", "Summary"),
        ("paragraph", "Labeling went well this quarter and the auditors were pleased."),
        ("section_header", "Risks"),
        ("paragraph", "Two vendors missed their deadlines. Costs rose."),
    ]


def test_indent_margin_comes_from_the_page() -> None:
    shifted = [(text, left + 0.2, top, h) for text, left, top, h in INDENT]
    assert [s.role for s in paragraphs.segment(page_lines(shifted), "indent")] == [
        "title",
        "paragraph",
        "section_header",
        "paragraph",
    ]


SPACED = [
    ("The first paragraph has two", 0.15, 0.10, BODY_H),
    ("lines of text in it", 0.15, 0.115, BODY_H),
    ("The second paragraph starts after", 0.15, 0.15, BODY_H),
    ("a wider gap", 0.15, 0.165, BODY_H),
    ("A third one", 0.15, 0.20, BODY_H),
]


def test_spacing_breaks_at_wide_gaps() -> None:
    assert rows(paragraphs.segment(page_lines(SPACED), "spacing")) == [
        ("paragraph", "The first paragraph has two lines of text in it"),
        ("paragraph", "The second paragraph starts after a wider gap"),
        ("paragraph", "A third one"),
    ]


def test_period_closes_paragraphs_and_keeps_trailing_text() -> None:
    spec = [
        ("One sentence that ends here.", 0.15, 0.10, BODY_H),
        ("Another that runs over", 0.15, 0.115, BODY_H),
        ("two lines.", 0.15, 0.13, BODY_H),
        ("and a tail with no stop", 0.15, 0.145, BODY_H),
    ]
    assert rows(paragraphs.segment(page_lines(spec), "period")) == [
        ("paragraph", "One sentence that ends here."),
        ("paragraph", "Another that runs over two lines."),
        ("paragraph", "and a tail with no stop"),
    ]


def test_empty_lines_never_make_a_row() -> None:
    spec = [*SPACED[:2], ("   ", 0.15, 0.13, BODY_H), *SPACED[2:]]
    lines = page_lines(spec)
    for technique in ("spacing", "period", "font", "indent", "auto"):
        segments = paragraphs.segment(lines, technique)
        assert all(s.text for s in segments), technique
        assert every_line_once(lines, segments), technique


def test_two_columns_are_read_column_by_column() -> None:
    left = [
        (f"left column line {i} of the story", 0.08, 0.10 + 0.015 * i, BODY_H) for i in range(6)
    ]
    right = [(f"right column line {i} goes on", 0.55, 0.10 + 0.015 * i, BODY_H) for i in range(6)]
    title = [("A Two Column Report On Labeling Vendors", 0.08, 0.05, 0.03)]
    lines = page_lines(title + [x for pair in zip(left, right, strict=True) for x in pair])
    ordered = [ln.text for ln in textract.reading_order(lines)]
    assert ordered[0].startswith("A Two Column")
    assert ordered[1:7] == [t for t, *_ in left] and ordered[7:] == [t for t, *_ in right]
    segments = paragraphs.segment(lines, "auto")
    assert segments[0].role == "title"
    # Text flows down the left column, then on at the top of the right one.
    assert " ".join(s.text for s in segments[1:]) == " ".join(t for t, *_ in left + right)


def test_running_headers_footers_and_page_numbers_keep_their_role() -> None:
    lines: list[Line] = []
    for page in (1, 2):
        lines += page_lines(
            [
                ("ACME quarterly report", 0.15, 0.02, 0.01),
                (f"Body text of page {page} that is long enough", 0.15, 0.3, BODY_H),
                ("and goes on to a second line.", 0.15, 0.315, BODY_H),
                (str(page), 0.5, 0.96, 0.01),
            ],
            page=page,
            start=len(lines),
        )
    segments = paragraphs.segment(lines, "spacing")
    assert [s.role for s in segments] == [
        "page_header",
        "paragraph",
        "page_number",
        "page_header",
        "page_number",
    ]
    # The paragraph runs on over the page break (no gap rule applies across pages).
    assert segments[1].text.endswith(
        "Body text of page 2 that is long enough and goes on to a second line."
    )
    assert every_line_once(lines, segments)


def test_hyphenated_words_are_joined_whole() -> None:
    assert (
        textract.join_lines(["the infor-", "mation", "well-", "Known"])
        == "the information well- Known"
    )


def test_unknown_technique() -> None:
    with pytest.raises(DocumentError, match="technique 'magic'"):
        paragraphs.segment(page_lines(SPACED), "magic")


def _block(kind: str, block_id: str, children: list[str] = (), **extra: object) -> dict:  # type: ignore[type-arg, assignment]
    block: dict = {"BlockType": kind, "Id": block_id, **extra}  # type: ignore[type-arg]
    if children:
        block["Relationships"] = [{"Type": "CHILD", "Ids": list(children)}]
    return block


def _line(block_id: str, text: str, top: float, height: float = BODY_H) -> dict:  # type: ignore[type-arg]
    box = {"Left": 0.1, "Top": top, "Width": 0.5, "Height": height}
    return _block("LINE", block_id, Text=text, Geometry={"BoundingBox": box})


def layout_response() -> dict:  # type: ignore[type-arg]
    """One page as Textract's LAYOUT feature answers it: a section header (no title), a
    list whose items are LAYOUT_TEXT blocks, and a figure with text in it."""
    lines = [
        _line("h", "Results", 0.10, 0.02),
        _line("i1", "- first item", 0.15),
        _line("i2", "- second item", 0.17),
        _line("f1", "Axis 0 10 20", 0.30),
        _line("f2", "Legend: revenue", 0.32),
        _line("t", "Revenue grew in every quarter.", 0.40),
    ]
    return {
        "Blocks": [
            _block("PAGE", "p", [b["Id"] for b in lines]),
            *lines,
            _block("LAYOUT_SECTION_HEADER", "L1", ["h"]),
            _block("LAYOUT_TEXT", "L2", ["i1"]),
            _block("LAYOUT_TEXT", "L3", ["i2"]),
            _block("LAYOUT_LIST", "L4", ["L2", "L3"]),
            _block("LAYOUT_FIGURE", "L5", ["f1", "f2"]),
            _block("LAYOUT_TEXT", "L6", ["t"]),
        ]
    }


def test_a_layout_list_is_one_row_with_its_items_and_figure_text_is_a_figure() -> None:
    lines = textract.read_lines(layout_response())
    segments = paragraphs.segment(lines, "layout")
    assert rows(segments) == [
        ("section_header", "Results"),
        ("list", "- first item - second item"),
        ("figure", "Axis 0 10 20 Legend: revenue"),
        ("paragraph", "Revenue grew in every quarter."),
    ]
    assert every_line_once(lines, segments)


def test_textract_headers_keep_the_role_textract_gave_them() -> None:
    # No LAYOUT_TITLE on the page: the first, tallest header stays a section header.
    segments = paragraphs.segment(textract.read_lines(layout_response()), "auto")
    assert [s.role for s in segments].count("title") == 0
    assert segments[-1].header == "Results"


def test_layout_without_layout_blocks_says_it_split_by_spacing() -> None:
    response = layout_response()
    response["Blocks"] = [b for b in response["Blocks"] if not b["BlockType"].startswith("LAYOUT")]
    lines = textract.read_lines(response)
    assert paragraphs.used(lines, "layout")[0] == "spacing"
    assert "no LAYOUT blocks" in str(paragraphs.used(lines, "layout")[1])
    assert rows(paragraphs.segment(lines, "layout")) == rows(paragraphs.segment(lines, "spacing"))
    assert paragraphs.used(textract.read_lines(layout_response()), "layout") == ("layout", None)
    assert paragraphs.used(lines, "auto") == ("auto", None)
