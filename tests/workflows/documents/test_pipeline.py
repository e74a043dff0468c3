"""Ingesting documents into the lake: generated PDFs, Textract JSON and bad input."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from labellake import sql
from labellake.aws_clients import AwsTarget
from labellake.lake import Lake, ObjectStore
from labellake.workflows.documents import detection, pipeline
from labellake.workflows.documents.pipeline import Options, find_sources, ingest
from labellake.workflows.samples.review_pdfs import LAYOUTS, write_pdf

EXAMPLES = Path(__file__).parents[2] / "fixtures/examples"


@pytest.fixture
def bare_lake(tmp_path: Path) -> Lake:
    """An empty lake with the views of sql/views (header_sentiment among them)."""
    return Lake(ObjectStore.from_uri(str(tmp_path / "lake")), views=sql.views())


def bad_pdfs(folder: Path) -> None:
    """One PDF for every way a document can be unreadable, and one with an empty page."""
    encrypted = Canvas(str(folder / "locked.pdf"), encrypt="secret")
    encrypted.drawString(72, 700, "Nobody reads this without the password.")
    encrypted.save()
    (folder / "damaged.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage")
    scan = Canvas(str(folder / "scan.pdf"))
    picture = io.BytesIO()
    Image.new("RGB", (200, 100), (200, 200, 200)).save(picture, format="PNG")
    scan.drawImage(ImageReader(io.BytesIO(picture.getvalue())), 72, 500, 200, 100)
    scan.save()
    blank = Canvas(str(folder / "blank.pdf"))
    blank.showPage()
    blank.save()
    half = Canvas(str(folder / "half-empty.pdf"))
    half.drawString(72, 700, "The first page says the service was excellent.")
    half.showPage()
    half.showPage()
    half.save()
    (folder / "no-lines.json").write_text(json.dumps({"Blocks": [{"BlockType": "PAGE"}]}))


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for layout in LAYOUTS:
        write_pdf(folder / f"review-{layout}.pdf", layout, seed=3)
    shutil.copy(EXAMPLES / "textract-analyze-layout.json", folder / "quarterly.json")
    bad_pdfs(folder)
    return folder


def test_a_folder_fills_the_tables_and_bad_documents_say_why(inbox: Path, bare_lake: Lake) -> None:
    outcomes = ingest(find_sources([str(inbox)]), bare_lake, Options())
    status = {o.doc_id: o.status for o in outcomes}
    assert status == {
        "review-font": "ok",
        "review-indent": "ok",
        "review-two_column": "ok",
        "review-spacing": "ok",
        "quarterly": "ok",
        "half-empty": "ok",
        "locked": "error",
        "damaged": "error",
        "scan": "error",
        "blank": "error",
        "no-lines": "error",
    }
    docs = {r["doc_id"]: r for r in bare_lake.query("SELECT * FROM documents").to_pylist()}
    assert "encrypted" in docs["locked"]["error"]
    assert "cannot read the PDF" in docs["damaged"]["error"]
    if detection.ocr_available():  # OCR reads the scan, which shows only a grey box
        assert "OCR found no text" in docs["scan"]["error"]
    else:
        assert "no text layer" in docs["scan"]["error"] and "tesseract" in docs["scan"]["error"]
    assert "no text on any page" in docs["blank"]["error"]
    assert "no LINE blocks" in docs["no-lines"]["error"]
    assert docs["half-empty"]["problems"] == "page 2 is empty"
    assert docs["quarterly"]["detection"] == "textract_json"
    # Every detected line is in exactly one row, and no row is empty.
    rows = bare_lake.query(
        "SELECT doc_id, count(*) AS lines, count(DISTINCT id) AS ids "
        "FROM (SELECT doc_id, unnest(line_ids) AS id FROM paragraphs) GROUP BY doc_id"
    ).to_pylist()
    for row in rows:
        assert row["lines"] == row["ids"] == docs[row["doc_id"]]["lines"], row
    assert bare_lake.query("SELECT min(length(text)) FROM paragraphs").column(0)[0].as_py() > 0
    assert {r["doc_id"] for r in rows} == {d for d, s in status.items() if s == "ok"}
    techniques = bare_lake.query(
        "SELECT DISTINCT doc_id, technique FROM paragraphs ORDER BY doc_id"
    ).to_pylist()
    assert {r["doc_id"]: r["technique"] for r in techniques}["quarterly"] == "layout"
    font = bare_lake.query(
        "SELECT role, header, sentiment FROM paragraphs WHERE doc_id = 'review-font' "
        "ORDER BY paragraph_no"
    ).to_pylist()
    assert [r["role"] for r in font[:3]] == ["page_header", "title", "section_header"]
    assert all(r["sentiment"] for r in font if r["role"] == "paragraph")
    assert all(r["header"] for r in font if r["role"] == "paragraph")
    headers = bare_lake.query(
        "SELECT header, sentiment FROM header_sentiment WHERE doc_id = 'review-font'"
    ).to_pylist()
    assert headers and all(h["sentiment"] for h in headers)


def test_ingesting_again_skips_unchanged_documents(inbox: Path, bare_lake: Lake) -> None:
    sources = find_sources([str(inbox / "review-font.pdf")])
    assert [o.status for o in ingest(sources, bare_lake, Options())] == ["ok"]
    assert [o.status for o in ingest(sources, bare_lake, Options())] == ["skipped"]
    assert [o.status for o in ingest(sources, bare_lake, Options(technique="font"))] == ["ok"]
    assert [
        o.status for o in ingest(sources, bare_lake, Options(force=True, technique="font"))
    ] == ["ok"]
    assert bare_lake.query("SELECT DISTINCT technique FROM paragraphs").column(0).to_pylist() == [
        "font"
    ]
    # A document that can no longer be read leaves no paragraphs behind.
    (inbox / "review-font.pdf").write_bytes(b"not a pdf any more")
    assert [o.status for o in ingest(sources, bare_lake, Options())] == ["error"]
    assert bare_lake.query("SELECT count(*) FROM paragraphs").column(0)[0].as_py() == 0


def test_same_file_names_get_distinct_ids(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(EXAMPLES / "textract-detect-text.json", tmp_path / folder / "review.json")
    ids = [s.doc_id for s in find_sources([str(tmp_path / "a"), str(tmp_path / "b")])]
    assert len(set(ids)) == 2 and all(i.startswith("review-") for i in ids)


def test_bad_targets_and_options(tmp_path: Path) -> None:
    from labellake.errors import LabellakeError

    with pytest.raises(LabellakeError, match="no documents there"):
        find_sources([str(tmp_path)])
    with pytest.raises(LabellakeError, match="--technique magic"):
        Options(technique="magic").check()


def test_watch_ingests_what_lands_in_the_inbox(tmp_path: Path, bare_lake: Lake) -> None:
    objects = ObjectStore.from_uri(str(tmp_path / "objects"))
    inbox = tmp_path / "objects" / pipeline.INBOX
    inbox.mkdir(parents=True)
    write_pdf(inbox / "arrived.pdf", "spacing", seed=1)
    rounds = iter([False, False, True])
    seen = []
    done = pipeline.watch(
        objects,
        bare_lake,
        Options(),
        stop=lambda: next(rounds),
        progress=seen.append,
        sleep=lambda _: None,
    )
    assert done == 1  # the second look finds the file unchanged
    assert [o.status for o in seen] == ["ok", "skipped"]
    assert bare_lake.query("SELECT doc_id FROM documents").column(0).to_pylist() == ["arrived"]


def test_without_ocr_a_scan_says_how_to_read_it(inbox: Path, bare_lake: Lake) -> None:
    [outcome] = ingest(
        find_sources([str(inbox / "scan.pdf")]), bare_lake, Options(detection="local")
    )
    assert outcome.status == "error"
    assert "no text layer" in outcome.error and "apt-get install tesseract-ocr" in outcome.error


def scanned(pdf: Path, out: Path) -> None:
    """A scan of ``pdf``: each page rendered to an image and placed on an image-only page."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf.read_bytes())
    canvas = Canvas(str(out))
    for index in range(len(document)):
        image = document[index].render(scale=200 / 72).to_pil()
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        canvas.drawImage(ImageReader(io.BytesIO(buffer.getvalue())), 0, 0, 612, 792)
        canvas.showPage()
    canvas.save()
    document.close()


@pytest.mark.skipif(
    not detection.ocr_available(),
    reason="no tesseract: install it with `apt-get install tesseract-ocr` (.ci/run does)",
)
def test_a_scanned_pdf_is_read_by_ocr(tmp_path: Path, bare_lake: Lake) -> None:
    sample = write_pdf(tmp_path / "typed.pdf", "font", seed=2)
    scanned(tmp_path / "typed.pdf", tmp_path / "scanned.pdf")
    [outcome] = ingest(find_sources([str(tmp_path / "scanned.pdf")]), bare_lake, Options())
    assert outcome.status == "ok", outcome.error
    [doc] = bare_lake.query("SELECT detection, lines FROM documents").to_pylist()
    assert doc["detection"] == "tesseract" and doc["lines"] >= len(sample.lines) - 2
    roles = bare_lake.query("SELECT role, text FROM paragraphs ORDER BY paragraph_no").to_pylist()
    headers = [r["text"] for r in roles if r["role"] == "section_header"]
    truth = [r.text for r in sample.rows if r.role == "section_header"]
    assert sum(h in truth for h in headers) >= len(truth) - 1  # OCR may misread one


def split(tmp_path: Path, layout: str, technique: str):  # type: ignore[no-untyped-def]
    from labellake.etl import paragraphs, textract

    sample = write_pdf(tmp_path / f"{layout}.pdf", layout, seed=5, sections=8)
    found = detection.from_pdf((tmp_path / f"{layout}.pdf").read_bytes(), layout)
    lines = textract.read_lines(found.responses)
    segments = paragraphs.segment(lines, technique)
    assert sorted(ln.id for s in segments for ln in s.lines) == sorted(ln.id for ln in lines)
    assert all(s.text for s in segments)
    return sample, segments


@pytest.mark.parametrize("layout", ["font", "indent"])
def test_header_techniques_on_their_layout(tmp_path: Path, layout: str) -> None:
    """Headers come out in line order, one row each, with the text between two headers
    as the first header's paragraph, joined with spaces and hyphenated words whole."""
    sample, segments = split(tmp_path, layout, layout)
    truth_headers = [r.text for r in sample.rows if r.role in ("title", "section_header")]
    assert [s.text for s in segments if s.role in ("title", "section_header")] == truth_headers
    body = [r for r in sample.rows if r.role in ("section_header", "paragraph")]
    under: dict[str, list[str]] = {}
    current = ""
    for row in body:
        if row.role == "section_header":
            current = row.text
        else:
            under.setdefault(current, []).append(row.text)
    found = {s.header: s.text for s in segments if s.role == "paragraph"}
    assert found == {header: " ".join(texts) for header, texts in under.items()}


def test_spacing_on_its_layout_starts_every_paragraph(tmp_path: Path) -> None:
    sample, segments = split(tmp_path, "spacing", "spacing")
    # Spacing cannot see a break at the top of a page: no gap is measured there.
    first_rows: dict[int, int] = {}
    for drawn in sample.lines:
        if sample.rows[drawn.row].role in ("section_header", "paragraph"):
            first_rows.setdefault(drawn.page, drawn.row)
    after_page_break = {r for row in first_rows.values() for r in (row, row + 1)}
    header = ""
    for number, row in enumerate(sample.rows):
        if row.role == "section_header":
            header = row.text
        if row.role != "paragraph" or number in after_page_break:
            continue
        opening = row.text[:40]
        # Each paragraph begins a row; a header, set apart by spacing too, may lead it.
        assert any(
            s.text.startswith(opening) or s.text.startswith(f"{header} {opening}") for s in segments
        ), row.text


def test_period_closes_rows_at_full_stops(tmp_path: Path) -> None:
    sample, segments = split(tmp_path, "two_column", "period")
    body = [s for s in segments if s.role == "paragraph"]
    assert all(s.text.endswith(".") for s in body[:-1])
    # Whole sentences, never glued: every truth paragraph is the concatenation of rows.
    text = " ".join(s.text for s in body)
    for row in sample.rows:
        if row.role == "paragraph":
            assert row.text in text


def test_documents_under_an_s3_prefix(
    tmp_path: Path, bare_lake: Lake, moto_endpoint: str, s3_bucket: str
) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    write_pdf(tmp_path / "report.pdf", "indent", seed=4)
    s3.upload_file(str(tmp_path / "report.pdf"), s3_bucket, "inbox/report.pdf")
    s3.upload_file(
        str(EXAMPLES / "textract-detect-text.json"), s3_bucket, "inbox/json/detected.json"
    )
    s3.put_object(Bucket=s3_bucket, Key="inbox/notes.txt", Body=b"not a document")
    aws = AwsTarget("us-east-1", moto_endpoint)
    sources = find_sources([f"s3://{s3_bucket}/inbox"], aws)
    assert sorted(s.doc_id for s in sources) == ["detected", "report"]
    outcomes = ingest(sources, bare_lake, Options(aws=aws))
    assert [o.status for o in outcomes] == ["ok", "ok"]
    sources = bare_lake.query("SELECT source FROM documents ORDER BY doc_id").column(0)
    assert sources.to_pylist() == [
        f"s3://{s3_bucket}/inbox/json/detected.json",
        f"s3://{s3_bucket}/inbox/report.pdf",
    ]


def test_layout_on_a_response_without_layout_says_it_fell_back(
    tmp_path: Path, bare_lake: Lake
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    response = json.loads((EXAMPLES / "textract-analyze-layout.json").read_text())
    response["Blocks"] = [b for b in response["Blocks"] if not b["BlockType"].startswith("LAYOUT")]
    (folder / "plain.json").write_text(json.dumps(response))
    (outcome,) = ingest(find_sources([str(folder)]), bare_lake, Options(technique="layout"))
    assert outcome.status == "ok"
    (doc,) = bare_lake.query("SELECT problems FROM documents").to_pylist()
    assert "technique layout: the response has no LAYOUT blocks" in doc["problems"]
    used = bare_lake.query("SELECT DISTINCT technique FROM paragraphs").column(0).to_pylist()
    assert used == ["spacing"]


def test_figure_text_gets_no_sentiment(tmp_path: Path, bare_lake: Lake) -> None:
    from tests.etl.test_paragraphs import layout_response

    folder = tmp_path / "fig"
    folder.mkdir()
    (folder / "fig.json").write_text(json.dumps(layout_response()))
    ingest(find_sources([str(folder)]), bare_lake, Options())
    rows = bare_lake.query(
        "SELECT role, sentiment FROM paragraphs ORDER BY paragraph_no"
    ).to_pylist()
    assert [r["role"] for r in rows] == ["section_header", "list", "figure", "paragraph"]
    assert rows[2]["sentiment"] is None and rows[3]["sentiment"] is not None


@pytest.mark.parametrize(
    "paragraphs_scored,label",
    [
        # review-two-column-1 as the Documents page showed it: POSITIVE beside these scores.
        ([(0.052, 0.054, 0.864, 0.030)], "NEUTRAL"),
        ([(0.30, 0.05, 0.65, 0.0)], "POSITIVE"),
        ([(0.02, 0.20, 0.78, 0.0)], "NEGATIVE"),
        ([(0.20, 0.15, 0.55, 0.10)], "MIXED"),
        # A long neutral paragraph outweighs a short glowing one.
        ([(0.9, 0.0, 0.1, 0.0), (0.0, 0.0, 1.0, 0.0), (0.0, 0.0, 1.0, 0.0)], "NEUTRAL"),
    ],
)
def test_a_documents_label_follows_from_the_scores_it_shows(
    paragraphs_scored: list[tuple[float, float, float, float]], label: str
) -> None:
    from labellake.workflows.documents.pipeline import overall_sentiment

    texts = ["short"] + ["a much longer paragraph " * 20] * 2
    scored = [
        (
            texts[i],
            {
                "sentiment": "POSITIVE",  # the paragraphs' own labels do not decide it
                "scores": dict(zip(("Positive", "Negative", "Neutral", "Mixed"), s, strict=True)),
            },
        )
        for i, s in enumerate(paragraphs_scored)
    ]
    overall = overall_sentiment(scored)
    assert overall is not None and overall["sentiment"] == label
