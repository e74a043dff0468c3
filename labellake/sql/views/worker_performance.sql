-- Worker performance per worker and job (with the job's work team): tasks, seconds per task, objects labeled, tasks
-- returned or declined, and, where an audit job checked the work, how the auditor judged it:
-- the share of the worker's objects left unchanged, the mean IoU shift of the boxes, objects
-- the auditor added or deleted, and the Pass/Fail rate.
WITH tasks AS (
    SELECT
        job_name,
        worker_id,
        count(*) AS tasks,
        approx_quantile(time_spent_s, 0.5) AS median_seconds_per_task,
        approx_quantile(time_spent_s, 0.9) AS p90_seconds_per_task
    FROM worker_responses
    GROUP BY job_name, worker_id
),
owner AS (
    -- The worker who submitted each data object of each job.
    SELECT job_name, source_ref, max(worker_id) AS worker_id
    FROM worker_responses
    GROUP BY job_name, source_ref
),
labeled AS (
    -- Objects (tracks) per data object come from the ETL's per-job summaries.
    SELECT o.job_name, o.worker_id, CAST(sum(s.tracks) AS BIGINT) AS objects
    FROM owner AS o
    JOIN annotation_stats AS s
        ON s.job_name = o.job_name AND s.source_ref = o.source_ref AND s.stat = 'data_object'
    GROUP BY o.job_name, o.worker_id
),
turned_down AS (
    SELECT
        job_name,
        worker_id,
        CAST(sum(CASE WHEN event_type = 'TasksReturned' THEN 1 ELSE 0 END) AS BIGINT)
            AS tasks_returned,
        CAST(sum(CASE WHEN event_type = 'TasksDeclined' THEN 1 ELSE 0 END) AS BIGINT)
            AS tasks_declined
    FROM worker_events
    GROUP BY job_name, worker_id
),
judged AS (
    -- How auditors judged each worker's data objects, from the ETL's per-object comparison.
    SELECT
        o.job_name,
        o.worker_id,
        CAST(sum(s.objects_audited) AS BIGINT) AS objects_audited,
        sum(s.objects_unchanged) AS objects_unchanged,
        sum(s.iou_shift_sum) / nullif(sum(s.objects_compared), 0) AS mean_iou_shift,
        CAST(sum(s.objects_added) AS BIGINT) AS objects_added,
        CAST(sum(s.objects_deleted) AS BIGINT) AS objects_deleted,
        sum(s.objects_passed) AS objects_passed,
        sum(s.objects_failed) AS objects_failed
    FROM audit_stats AS s
    JOIN owner AS o ON o.job_name = s.audited_job AND o.source_ref = s.source_ref
    GROUP BY o.job_name, o.worker_id
)
SELECT
    t.job_name,
    regexp_extract(w.workteam, '[^/]+$') AS team,
    t.worker_id,
    t.tasks,
    t.median_seconds_per_task,
    t.p90_seconds_per_task,
    coalesce(l.objects, 0) AS objects_labeled,
    coalesce(d.tasks_returned, 0) AS tasks_returned,
    coalesce(d.tasks_declined, 0) AS tasks_declined,
    j.objects_audited,
    CAST(j.objects_unchanged AS DOUBLE) / nullif(j.objects_audited, 0) AS share_unchanged,
    j.mean_iou_shift,
    j.objects_added,
    j.objects_deleted,
    CAST(j.objects_passed AS DOUBLE) / nullif(j.objects_passed + j.objects_failed, 0)
        AS pass_rate,
    CAST(j.objects_failed AS DOUBLE) / nullif(j.objects_passed + j.objects_failed, 0)
        AS fail_rate
FROM tasks AS t
LEFT JOIN jobs AS w ON w.job_name = t.job_name
LEFT JOIN labeled AS l ON l.job_name = t.job_name AND l.worker_id = t.worker_id
LEFT JOIN turned_down AS d ON d.job_name = t.job_name AND d.worker_id = t.worker_id
LEFT JOIN judged AS j ON j.job_name = t.job_name AND j.worker_id = t.worker_id
ORDER BY t.job_name, t.worker_id
