-- Sentiment per document and header: the paragraphs under each header, how many are
-- positive, negative, neutral or mixed, their mean scores, and the label most of them
-- carry (MIXED when positive and negative paragraphs each make a quarter or more).
WITH scored AS (
    SELECT
        doc_id,
        coalesce(header, '(before the first header)') AS header,
        min(paragraph_no) AS first_paragraph,
        count(*) AS paragraphs,
        CAST(sum(CASE WHEN sentiment = 'POSITIVE' THEN 1 ELSE 0 END) AS BIGINT) AS positive,
        CAST(sum(CASE WHEN sentiment = 'NEGATIVE' THEN 1 ELSE 0 END) AS BIGINT) AS negative,
        CAST(sum(CASE WHEN sentiment = 'NEUTRAL' THEN 1 ELSE 0 END) AS BIGINT) AS neutral,
        CAST(sum(CASE WHEN sentiment = 'MIXED' THEN 1 ELSE 0 END) AS BIGINT) AS mixed,
        avg(score_positive) AS score_positive,
        avg(score_negative) AS score_negative,
        avg(score_neutral) AS score_neutral,
        avg(score_mixed) AS score_mixed
    FROM paragraphs
    -- Only rows that carry an opinion: never headers, page furniture or figure text.
    WHERE sentiment IS NOT NULL AND role IN ('paragraph', 'list', 'table')
    GROUP BY doc_id, coalesce(header, '(before the first header)')
)
SELECT
    doc_id,
    header,
    first_paragraph,
    paragraphs,
    positive,
    negative,
    neutral,
    mixed,
    CASE
        WHEN positive * 4 >= paragraphs AND negative * 4 >= paragraphs THEN 'MIXED'
        WHEN positive >= negative AND positive >= neutral AND positive >= mixed THEN 'POSITIVE'
        WHEN negative >= neutral AND negative >= mixed THEN 'NEGATIVE'
        WHEN neutral >= mixed THEN 'NEUTRAL'
        ELSE 'MIXED'
    END AS sentiment,
    score_positive,
    score_negative,
    score_neutral,
    score_mixed
FROM scored
ORDER BY doc_id, first_paragraph
