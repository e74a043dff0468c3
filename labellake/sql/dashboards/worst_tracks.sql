-- The tracks with the most QA findings, with the frames they were found on.
SELECT
    job_name,
    source_ref,
    object_id,
    count(*) AS findings,
    min(frame_no) AS first_frame,
    max(frame_no) AS last_frame,
    string_agg(DISTINCT check_name, ', ') AS checks
FROM qa_findings
GROUP BY job_name, source_ref, object_id
ORDER BY findings DESC, job_name, source_ref, object_id
LIMIT 20
