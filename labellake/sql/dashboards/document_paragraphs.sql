-- One document's rows in order (the Documents page).
SELECT paragraph_no, page, role, header, text, sentiment, score_positive, score_negative,
    score_neutral, score_mixed
FROM paragraphs
WHERE doc_id = ?
ORDER BY paragraph_no
