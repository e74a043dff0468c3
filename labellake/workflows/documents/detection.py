"""Text detection backends. Each hands back Textract's response format (a list of
responses, as GetDocumentTextDetection pages them), which etl/paragraphs.py reads.

- ``local``: the text layer of a PDF (pdfplumber): words grouped into lines,
  lines split where a gutter separates columns, boxes as fractions of the page.
- ``textract``: Amazon Textract's asynchronous StartDocumentTextDetection and
  GetDocumentTextDetection, following NextToken to the last page.
- ``tesseract``: OCR of scanned pages (PDF pages rendered with pypdfium2, or
  image files) with the tesseract binary, when it is installed.
- ``textract_json``: a Textract response saved as JSON (sync or async, one
  response, a list of pages, or an object holding them), taken as it is.
"""

from __future__ import annotations

import io
import json
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labellake.etl.textract import DocumentError

OCR_DPI = 200
GUTTER = 0.02  # a horizontal gap wider than this share of the page splits a line


@dataclass
class Detected:
    """What a backend found: the response pages, page count and non-fatal notes."""

    responses: list[dict[str, Any]]
    pages: int
    detection: str
    problems: list[str] = field(default_factory=list)


def from_json(data: bytes, name: str) -> Detected:
    """A saved Textract response: one response, a list of NextToken pages, or an object
    with them under "Responses"/"responses"."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DocumentError(f"{name} is not JSON: {exc}") from exc
    if isinstance(document, dict) and "Blocks" not in document:
        for key in ("Responses", "responses", "pages"):
            if isinstance(document.get(key), list):
                document = document[key]
                break
    responses = document if isinstance(document, list) else [document]
    if not all(isinstance(r, dict) for r in responses):
        raise DocumentError(f"{name}: not a Textract response (an object with 'Blocks')")
    pages = max([int((r.get("DocumentMetadata") or {}).get("Pages") or 0) for r in responses] + [1])
    return Detected(responses, pages, "textract_json")


def from_pdf(data: bytes, name: str, ocr: bool = True) -> Detected:
    """The text layer of a PDF as LINE and WORD blocks; a scan with no text layer goes
    to OCR when ``ocr`` and tesseract is installed."""
    import pdfplumber

    try:
        pdf = pdfplumber.open(io.BytesIO(data))
        pages = list(pdf.pages)
    except Exception as exc:  # pdfminer raises many types for encrypted or damaged files
        raise DocumentError(f"{name}: cannot read the PDF ({_reason(exc)})") from exc
    blocks: list[dict[str, Any]] = []
    problems: list[str] = []
    images_only = 0
    try:
        for number, page in enumerate(pages, 1):
            try:
                words = page.extract_words(keep_blank_chars=False, use_text_flow=False)
            except Exception as exc:  # a damaged content stream on one page
                problems.append(f"page {number}: cannot read its text ({_reason(exc)})")
                continue
            if not words:
                if page.images:
                    images_only += 1
                    problems.append(f"page {number} is an image with no text layer")
                else:
                    problems.append(f"page {number} is empty")
            blocks += _page_blocks(number, float(page.width), float(page.height), words)
    finally:
        pdf.close()
    if not any(b["BlockType"] == "LINE" for b in blocks):
        if images_only and ocr and ocr_available():
            return from_scan(data, name)
        if images_only:
            raise DocumentError(
                f"{name}: no text layer (a scanned PDF) and no OCR here; install tesseract "
                "(apt-get install tesseract-ocr) or ingest it with --detection textract"
            )
        raise DocumentError(f"{name}: no text on any page")
    response = {"DocumentMetadata": {"Pages": len(pages)}, "Blocks": blocks}
    return Detected([response], len(pages), "local", problems)


def _reason(exc: Exception) -> str:
    # pdfplumber wraps pdfminer's errors: name the one inside.
    inner = exc.args[0] if exc.args and isinstance(exc.args[0], Exception) else exc
    kind = type(inner).__name__
    text = str(inner).strip()
    if "password" in kind.lower() or "encrypt" in (kind + text).lower():
        return "it is encrypted; decrypt it first"
    return f"{kind}: {text}" if text else f"{kind}; the file may be damaged"


def _page_blocks(
    number: int, width: float, height: float, words: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """PAGE, LINE and WORD blocks of one page from pdfplumber's words."""
    lines = _lines(words, width)
    page_id = f"page-{number}"
    blocks: list[dict[str, Any]] = [
        {
            "BlockType": "PAGE",
            "Id": page_id,
            "Page": number,
            "Geometry": {"BoundingBox": {"Left": 0.0, "Top": 0.0, "Width": 1.0, "Height": 1.0}},
            "Relationships": [
                {"Type": "CHILD", "Ids": [f"p{number}-l{i}" for i in range(1, len(lines) + 1)]}
            ],
        }
    ]
    for i, line in enumerate(lines, 1):
        line_id = f"p{number}-l{i}"
        word_ids = [f"{line_id}-w{j}" for j in range(1, len(line) + 1)]
        blocks.append(
            {
                "BlockType": "LINE",
                "Id": line_id,
                "Page": number,
                "Confidence": 100.0,
                "Text": " ".join(w["text"] for w in line),
                "Geometry": {"BoundingBox": _box(line, width, height)},
                "Relationships": [{"Type": "CHILD", "Ids": word_ids}],
            }
        )
        for word_id, word in zip(word_ids, line, strict=True):
            blocks.append(
                {
                    "BlockType": "WORD",
                    "Id": word_id,
                    "Page": number,
                    "Confidence": 100.0,
                    "Text": word["text"],
                    "TextType": "PRINTED",
                    "Geometry": {"BoundingBox": _box([word], width, height)},
                }
            )
    return blocks


def _lines(words: list[dict[str, Any]], width: float) -> list[list[dict[str, Any]]]:
    """Words grouped into lines: the same baseline, and no gutter between them."""
    rows: list[list[dict[str, Any]]] = []
    for word in sorted(words, key=lambda w: (round(w["bottom"], 1), w["x0"])):
        size = word["bottom"] - word["top"]
        if rows and abs(rows[-1][-1]["bottom"] - word["bottom"]) <= 0.3 * size:
            rows[-1].append(word)
        else:
            rows.append([word])
    lines = []
    for row in rows:
        row.sort(key=lambda w: w["x0"])
        sizes = [w["bottom"] - w["top"] for w in row]
        gap_limit = max(GUTTER * width, 1.2 * statistics.median(sizes))
        current = [row[0]]
        for word in row[1:]:
            if word["x0"] - current[-1]["x1"] > gap_limit:
                lines.append(current)
                current = [word]
            else:
                current.append(word)
        lines.append(current)
    return sorted(lines, key=lambda ln: (min(w["top"] for w in ln), min(w["x0"] for w in ln)))


def _box(words: list[dict[str, Any]], width: float, height: float) -> dict[str, float]:
    left = min(w["x0"] for w in words)
    top = min(w["top"] for w in words)
    right = max(w["x1"] for w in words)
    bottom = max(w["bottom"] for w in words)
    return {
        "Left": left / width,
        "Top": top / height,
        "Width": (right - left) / width,
        "Height": (bottom - top) / height,
    }


def from_textract(
    client: Any,
    bucket: str,
    key: str,
    *,
    poll_s: float = 5.0,
    timeout_s: float = 1800.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Detected:
    """Run Textract's asynchronous text detection on s3://bucket/key; every result page."""
    started = client.start_document_text_detection(
        DocumentLocation={"S3Object": {"Bucket": bucket, "Name": key}}
    )
    job_id = started["JobId"]
    waited = 0.0
    while True:
        first = client.get_document_text_detection(JobId=job_id, MaxResults=1000)
        status = first.get("JobStatus")
        if status in ("SUCCEEDED", "PARTIAL_SUCCESS"):
            break
        if status == "FAILED":
            raise DocumentError(
                f"s3://{bucket}/{key}: Textract failed: {first.get('StatusMessage') or 'no reason'}"
            )
        if waited >= timeout_s:
            raise DocumentError(
                f"s3://{bucket}/{key}: Textract job {job_id} ran past {timeout_s} s"
            )
        sleep(poll_s)
        waited += poll_s
    responses = [first]
    while responses[-1].get("NextToken"):
        responses.append(
            client.get_document_text_detection(
                JobId=job_id, MaxResults=1000, NextToken=responses[-1]["NextToken"]
            )
        )
    pages = int((first.get("DocumentMetadata") or {}).get("Pages") or 1)
    problems = [
        f"Textract: {w.get('ErrorCode')} on pages {w.get('Pages')}"
        for r in responses
        for w in r.get("Warnings") or []
    ]
    return Detected(responses, pages, "textract", problems)


def ocr_available() -> bool:
    """Whether tesseract (the binary and its Python wrapper) is installed."""
    if shutil.which("tesseract") is None:
        return False
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return False
    return True


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def from_scan(data: bytes, name: str) -> Detected:
    """OCR of a scanned PDF (every page rendered) or of an image file, by tesseract."""
    from PIL import Image, UnidentifiedImageError

    if not ocr_available():
        raise DocumentError(
            f"{name}: OCR needs tesseract; install it (apt-get install tesseract-ocr) or use "
            "--detection textract"
        )
    images: list[Image.Image] = []
    if name.lower().endswith(IMAGE_SUFFIXES):
        try:
            images = [Image.open(io.BytesIO(data)).convert("RGB")]
        except (UnidentifiedImageError, OSError) as exc:
            raise DocumentError(f"{name}: not an image ({exc})") from exc
    else:
        import pypdfium2

        try:
            pdf = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            raise DocumentError(f"{name}: cannot read the PDF ({exc})") from exc
        try:
            images = [pdf[i].render(scale=OCR_DPI / 72).to_pil() for i in range(len(pdf))]
        finally:
            pdf.close()
    blocks: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, image in enumerate(images, 1):
        page_blocks = _ocr_page(number, image)
        if len(page_blocks) == 1:
            problems.append(f"page {number}: OCR found no text")
        blocks += page_blocks
    if not any(b["BlockType"] == "LINE" for b in blocks):
        raise DocumentError(f"{name}: OCR found no text on any page")
    response = {"DocumentMetadata": {"Pages": len(images)}, "Blocks": blocks}
    return Detected([response], len(images), "tesseract", problems)


def _ocr_page(number: int, image: Any) -> list[dict[str, Any]]:
    """PAGE, LINE and WORD blocks from tesseract's words on one page image."""
    import pytesseract

    found = pytesseract.image_to_data(image, output_type=pytesseract.Output.DICT)
    width, height = image.size
    words = [
        {
            "text": str(text),
            "x0": found["left"][i],
            "top": found["top"][i],
            "x1": found["left"][i] + found["width"][i],
            "bottom": found["top"][i] + found["height"][i],
            "conf": float(found["conf"][i]),
        }
        for i, text in enumerate(found["text"])
        if str(text).strip() and float(found["conf"][i]) >= 0
    ]
    blocks = _page_blocks(number, float(width), float(height), words)
    if words:  # tesseract's word confidences, averaged, stand for the page's
        confidence = round(statistics.mean(w["conf"] for w in words), 1)
        for block in blocks:
            if block["BlockType"] != "PAGE":
                block["Confidence"] = confidence
    return blocks
