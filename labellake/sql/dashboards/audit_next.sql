-- What to audit next: the objects no audit has seen yet, riskiest first (their predicted
-- probability of failing an audit, from the risk routing of their job; the last audit job
-- by name where several routed it).
WITH newest AS (
    SELECT audited_job, max(job_name) AS job_name
    FROM audit_routing
    WHERE risk IS NOT NULL
    GROUP BY audited_job
),
seen AS (
    SELECT DISTINCT audited_job, source_ref, object_id
    FROM audit_routing
    WHERE routed
)
SELECT
    r.audited_job AS job_name,
    r.source_ref,
    r.object_id,
    r.worker_id,
    r.risk,
    r.risk_source
FROM audit_routing AS r
JOIN newest AS n ON n.job_name = r.job_name
LEFT JOIN seen AS s
    ON s.audited_job = r.audited_job AND s.source_ref = r.source_ref AND s.object_id = r.object_id
WHERE s.object_id IS NULL
ORDER BY r.risk DESC, r.audited_job, r.source_ref, r.object_id
LIMIT 50
