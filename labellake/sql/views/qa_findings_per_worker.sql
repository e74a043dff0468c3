-- Automated QA findings per worker: on the data objects each worker submitted.
WITH owner AS (
    SELECT job_name, source_ref, max(worker_id) AS worker_id
    FROM worker_responses
    GROUP BY job_name, source_ref
)
SELECT
    o.worker_id,
    f.job_name,
    f.check_name,
    count(*) AS findings,
    count(DISTINCT f.source_ref) AS data_objects
FROM qa_findings AS f
JOIN owner AS o ON o.job_name = f.job_name AND o.source_ref = f.source_ref
GROUP BY o.worker_id, f.job_name, f.check_name
ORDER BY o.worker_id, f.job_name, findings DESC
