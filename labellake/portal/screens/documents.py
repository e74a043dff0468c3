"""Documents: upload PDFs or Textract JSON, each document's paragraphs coloured by
sentiment, the sentiment per document and per header, and the negative paragraphs."""

from __future__ import annotations

import html
import posixpath

import pandas as pd
import streamlit as st

from labellake.etl.paragraphs import ROLES, TECHNIQUES
from labellake.portal import charts, data, ready
from labellake.workflows.documents import pipeline

ROLE_NAMES = {role: role.replace("_", " ") for role in ROLES}
COLOURS = {"POSITIVE": "#e8f5e9", "NEGATIVE": "#ffebee", "MIXED": "#fff8e1", "NEUTRAL": "#f5f5f5"}


def ingest_uploads(uploads: list, technique: str, sentiment: str) -> list[pipeline.Outcome]:  # type: ignore[type-arg]
    """Put the uploaded files in the inbox, then ingest them."""
    home = data.home()
    uris = []
    for upload in uploads:
        key = f"{pipeline.INBOX}/{posixpath.basename(upload.name)}"
        home.objects.write_bytes(key, upload.getvalue())
        uris.append(home.objects.uri(key))
    aws = home.settings.aws
    sources = pipeline.find_sources(uris, aws)
    return pipeline.ingest(sources, home.lake, pipeline.Options(technique, sentiment, aws=aws))


st.title("Documents")

with st.expander("Upload documents", expanded=data.query("dashboards/document_list").empty):
    uploads = st.file_uploader(
        "PDFs with a text layer, or Textract JSON responses",
        type=["pdf", "json"],
        accept_multiple_files=True,
    )
    left, right = st.columns(2)
    technique = left.selectbox("Technique", TECHNIQUES)
    sentiment = right.selectbox("Sentiment", ["vader"], help="comprehend runs on AWS")
    if st.button("Ingest", type="primary", disabled=not uploads):
        for outcome in data.run(ingest_uploads, uploads, technique, sentiment) or []:
            if outcome.status == "error":
                st.error(f"{outcome.doc_id}: {outcome.error}")
            else:
                st.success(f"{outcome.doc_id}: {outcome.status}, {outcome.paragraphs} rows")
        st.cache_data.clear()

listing = data.query("dashboards/document_list")
if listing.empty:
    st.info(
        "No documents yet. Upload some above, or run `labellake documents sample` and "
        "`labellake documents ingest ~/.labellake/objects/documents/samples`."
    )
    ready.stop()

if st.button("Negative paragraphs", icon=":material/sentiment_dissatisfied:"):
    st.session_state["documents-negative"] = not st.session_state.get("documents-negative")
if st.session_state.get("documents-negative"):
    negative = data.query("dashboards/negative_paragraphs")
    st.subheader(f"Negative paragraphs ({len(negative)})")
    st.dataframe(negative, width="stretch", hide_index=True)

st.subheader("Documents")
st.altair_chart(charts.document_sentiment(listing[listing["status"] == "ok"]), width="stretch")
st.dataframe(
    listing[
        [
            "doc_id",
            "status",
            "sentiment",
            "pages",
            "paragraphs",
            "technique",
            "detection",
            "error",
            "problems",
            "source",
        ]
    ],
    width="stretch",
    hide_index=True,
)

readable = listing[listing["status"] == "ok"]["doc_id"].tolist()
if not readable:
    st.caption("No document could be read; the errors above say why.")
    ready.stop()
doc_id = st.selectbox("Document", readable)
row = listing[listing["doc_id"] == doc_id].iloc[0]
cols = st.columns(4)
cols[0].metric("Overall sentiment", row["sentiment"] or "-")
cols[1].metric("Positive", f"{(row['score_positive'] or 0):.2f}")
cols[2].metric("Negative", f"{(row['score_negative'] or 0):.2f}")
cols[3].metric("Pages", int(row["pages"] or 0))
st.caption(
    "The scores are the paragraphs' scores averaged by their length; the overall label "
    "follows from them: MIXED when Positive and Negative are both at least 0.12, else the "
    "side that leads the other by 0.05 or more, else NEUTRAL. Headers, page headers and "
    "footers and figure text carry no sentiment and are left out of the charts."
)

headers = data.query("views/header_sentiment")
headers = headers[headers["doc_id"] == doc_id]
if not headers.empty:
    st.subheader("Per header")
    st.altair_chart(charts.header_sentiment(headers), width="stretch")

st.subheader("Paragraphs")
rows = data.query("dashboards/document_paragraphs", (doc_id,))
present = [role for role in ROLE_NAMES if role in set(rows["role"])]
shown = st.multiselect(
    "Roles",
    present,
    default=present,
    format_func=ROLE_NAMES.get,
    help="What each row is: Textract's layout says so, or the technique found it. "
    "Only paragraphs, lists and tables are scored for sentiment.",
)
counts = rows["role"].value_counts()
st.caption(" · ".join(f"{ROLE_NAMES[role]}: {counts[role]}" for role in present))
for item in rows[rows["role"].isin(shown)].itertuples():
    colour = COLOURS.get(item.sentiment, "#ffffff") if pd.notna(item.sentiment) else "#ffffff"
    label = f"{item.sentiment.lower()} · " if pd.notna(item.sentiment) else ""
    text = html.escape(item.text)
    if item.role in ("title", "section_header"):
        text = f"<b>{text}</b>"
    elif item.role in ("page_header", "page_footer", "page_number", "figure"):
        text = f'<span style="color:#666">{text}</span>'
    st.html(
        f'<div style="background:{colour};padding:6px 10px;border-radius:4px;margin:2px 0">'
        f'<small style="color:#666">p{item.page} · {ROLE_NAMES.get(item.role, item.role)} · '
        f"{label}#{item.paragraph_no}</small><br>{text}</div>"
    )
