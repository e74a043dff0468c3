-- Every document with its status and overall sentiment, newest first.
SELECT
    doc_id, status, error, problems, source, detection, technique, sentiment_backend, pages,
    lines, paragraphs, sentiment, score_positive, score_negative, score_neutral, score_mixed,
    ingested_at
FROM documents
ORDER BY ingested_at DESC, doc_id
