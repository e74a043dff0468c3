"""``auto`` on real Textract pages, scored against Textract's own layout.

The pages are the corpus in benchmarks/data/textract_layout (ORIGIN.md there names the
repository, path and commit of each). The LAYOUT blocks are removed before splitting,
and the benchmark's scorer (benchmarks/documents_real.py) compares the rows with them.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from labellake.etl import paragraphs, textract

BENCHMARK = Path(__file__).parents[2] / "benchmarks/documents_real.py"
_spec = importlib.util.spec_from_file_location("documents_real", BENCHMARK)
assert _spec is not None and _spec.loader is not None
real = importlib.util.module_from_spec(_spec)
sys.modules["documents_real"] = real
_spec.loader.exec_module(real)

CORPUS = sorted(real.CORPUS.glob("*.json.gz"))


def split(path: Path, method: str) -> tuple[list[textract.Line], list[tuple[str, list[str]]]]:
    truth = textract.read_lines(real.load(path))
    bare = [replace(line, layout=None, layout_id=None) for line in truth]
    return truth, real.rows_of(method, bare)


@pytest.fixture(scope="module")
def scores() -> dict[str, dict[str, object]]:
    result = {}
    for path in CORPUS:
        truth, _ = split(path, "auto")
        result[path.name] = {
            method: real.score(truth, split(path, method)[1]) for method in ("auto", "one_line")
        }
    return result


def test_the_corpus_is_there_with_its_origin() -> None:
    assert len(CORPUS) >= 25
    origin = (real.CORPUS / "ORIGIN.md").read_text()
    for path in CORPUS:
        assert f"| {path.name} |" in origin, f"{path.name} has no row in ORIGIN.md"


def test_auto_is_never_below_one_line_per_paragraph(scores: dict) -> None:
    for name, by_method in scores.items():
        auto, one_line = by_method["auto"], by_method["one_line"]
        if auto.exact_f1 is not None:
            assert auto.exact_f1 >= one_line.exact_f1, name
    exact = [s["auto"].exact_f1 for s in scores.values() if s["auto"].exact_f1 is not None]
    assert statistics.median(exact) >= 0.6


def test_no_row_mixes_lines_of_two_columns(scores: dict) -> None:
    assert {name: s["auto"].mixed for name, s in scores.items() if s["auto"].mixed} == {}


def test_two_column_newspaper_page_reads_each_column_down() -> None:
    # Before: 20 rows joined a line of one column with a line of the next.
    path = real.CORPUS / "slub-tx2page-sn1991-0001.json.gz"
    truth, rows = split(path, "auto")
    by_id = {line.id: line for line in truth}
    for role, ids in rows:
        if role != "paragraph":
            continue
        for a, b in zip(ids, ids[1:], strict=False):
            upper, lower = by_id[a], by_id[b]
            if lower.top > upper.top:  # same column: the next line is below and in line
                assert min(upper.right, lower.right) > max(upper.left, lower.left), (a, b)


def test_page_header_and_footer_set_apart_on_a_one_page_invoice() -> None:
    path = real.CORPUS / "awstxr-sample-invoice.json.gz"
    lines = [
        replace(line, layout=None, layout_id=None) for line in textract.read_lines(real.load(path))
    ]
    segments = paragraphs.segment(lines, "auto")
    roles = [(s.role, s.text) for s in segments]
    assert roles[0] == ("page_header", "Sliced/Invoices")
    footer = [text for role, text in roles if role == "page_footer"]
    assert len(footer) == 1 and footer[0].startswith("Payment is due within 30 days")
    assert footer[0].endswith("admin@slicedinvoices.com")
    assert roles[-1] == ("page_number", "Page 1/1")


def test_headers_are_not_every_other_row() -> None:
    # Before: 1,032 lines in title or section header rows, 72 of them among the 89 lines
    # of Textract's LAYOUT_TITLE / LAYOUT_SECTION_HEADER blocks (precision 0.07).
    found = false = 0
    for path in CORPUS:
        truth, rows = split(path, "auto")
        hit, wrong, _ = real.score(truth, rows).headings
        found, false = found + hit, false + wrong
    assert found / (found + false) >= 0.25


def test_a_table_of_single_lines_is_one_table_row() -> None:
    path = real.CORPUS / "hupe-gotxr-simple-table-layout.json.gz"
    truth, rows = split(path, "auto")
    table = {line.id for line in truth if line.layout == "LAYOUT_TABLE"}
    assert [set(ids) for role, ids in rows if role == "table"] == [table]
