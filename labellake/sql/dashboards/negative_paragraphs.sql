-- Negative paragraphs, most negative first, with their document, page and header.
SELECT p.doc_id, p.page, p.paragraph_no, p.header, p.text, p.score_negative, d.source
FROM paragraphs AS p
LEFT JOIN documents AS d ON d.doc_id = p.doc_id
WHERE p.sentiment = 'NEGATIVE'
ORDER BY p.score_negative DESC, p.doc_id, p.paragraph_no
