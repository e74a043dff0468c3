-- Data objects of a job with their frame range (the frame viewer's picker).
SELECT source_ref, min(frame_no) AS first_frame, max(frame_no) AS last_frame, count(*) AS shapes
FROM annotations
WHERE job_name = ?
GROUP BY source_ref
ORDER BY source_ref
