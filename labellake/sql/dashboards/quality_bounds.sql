-- Per audited job: what shipped, what the audit saw and found, and the errors estimated
-- left, with the one-sided 90% upper bound of their rate.
SELECT
    batch_id,
    audited_job,
    job_name AS audit_job,
    mode,
    objects,
    audited,
    errors_found,
    residual_errors,
    residual_rate,
    upper_rate,
    method,
    as_of
FROM dataset_quality
ORDER BY as_of DESC, batch_id, audit_job
