-- Automated QA findings per job and check, with the data objects and tracks they touch.
SELECT
    job_name,
    "check",
    count(*) AS findings,
    count(DISTINCT source_ref) AS data_objects,
    count(DISTINCT source_ref || '|' || object_id) AS tracks
FROM qa_findings
GROUP BY job_name, "check"
ORDER BY job_name, findings DESC
