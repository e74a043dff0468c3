-- The audit-risk dataset: one row per object an auditor saw through a probability sample
-- (audit_routing.routed), with what was known of it before the audit
-- (object_risk_features) and whether the auditor failed it.
SELECT
    f.label,
    f.shape,
    f.frames,
    f.mean_width,
    f.mean_height,
    f.mean_aspect,
    f.findings,
    f.finding_checks,
    f.finding_frames,
    f.clip_objects,
    f.seconds_per_shape,
    coalesce(f.worker_error, -1.0) AS worker_error,
    CASE WHEN r.failed THEN 1.0 ELSE 0.0 END AS failed
FROM audit_routing AS r
JOIN object_risk_features AS f
    ON f.job_name = r.audited_job AND f.source_ref = r.source_ref AND f.object_id = r.object_id
WHERE r.routed AND r.failed IS NOT NULL
ORDER BY r.job_name, r.source_ref, r.object_id
