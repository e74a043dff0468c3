-- Worker performance per worker and job: tasks, seconds per task, objects labeled, tasks
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
audit_of AS (
    SELECT chain_from AS job_name, job_name AS audit_job
    FROM jobs
    WHERE chain_from IS NOT NULL
),
audited AS (
    -- Data objects an audit job saw (after downsampling or QA routing).
    SELECT DISTINCT u.job_name, u.audit_job, l.source_ref
    FROM audit_of AS u
    JOIN labels AS l ON l.job_name = u.audit_job AND l.metadata_job_name = u.audit_job
),
shapes AS (
    -- Every shape of an audited data object, in the worker's version and the auditor's.
    SELECT
        d.job_name, o.worker_id, d.source_ref, a.object_id, a.frame_no,
        'worker' AS side, a."left", a.top, a.width, a.height, a.audit
    FROM audited AS d
    JOIN owner AS o ON o.job_name = d.job_name AND o.source_ref = d.source_ref
    JOIN annotations AS a ON a.job_name = d.job_name AND a.source_ref = d.source_ref
    UNION ALL
    SELECT
        d.job_name, o.worker_id, d.source_ref, a.object_id, a.frame_no,
        'auditor' AS side, a."left", a.top, a.width, a.height, a.audit
    FROM audited AS d
    JOIN owner AS o ON o.job_name = d.job_name AND o.source_ref = d.source_ref
    JOIN annotations AS a ON a.job_name = d.audit_job AND a.source_ref = d.source_ref
),
frames AS (
    SELECT
        job_name, worker_id, source_ref, object_id, frame_no,
        max(CASE WHEN side = 'worker' THEN 1 ELSE 0 END) AS by_worker,
        max(CASE WHEN side = 'auditor' THEN 1 ELSE 0 END) AS by_auditor,
        max(CASE WHEN side = 'auditor' THEN audit END) AS verdict,
        max(CASE WHEN side = 'worker' THEN "left" END) AS l1,
        max(CASE WHEN side = 'worker' THEN top END) AS t1,
        max(CASE WHEN side = 'worker' THEN width END) AS w1,
        max(CASE WHEN side = 'worker' THEN height END) AS h1,
        max(CASE WHEN side = 'auditor' THEN "left" END) AS l2,
        max(CASE WHEN side = 'auditor' THEN top END) AS t2,
        max(CASE WHEN side = 'auditor' THEN width END) AS w2,
        max(CASE WHEN side = 'auditor' THEN height END) AS h2
    FROM shapes
    GROUP BY job_name, worker_id, source_ref, object_id, frame_no
),
overlap AS (
    SELECT
        *,
        greatest(0.0, least(l1 + w1, l2 + w2) - greatest(l1, l2))
        * greatest(0.0, least(t1 + h1, t2 + h2) - greatest(t1, t2)) AS inter
    FROM frames
),
iou AS (
    SELECT
        *,
        CASE
            WHEN by_worker = 1 AND by_auditor = 1 AND w1 * h1 + w2 * h2 - inter > 0
                THEN inter / (w1 * h1 + w2 * h2 - inter)
        END AS box_iou
    FROM overlap
),
objects AS (
    SELECT
        job_name, worker_id, source_ref, object_id,
        max(by_worker) AS by_worker,
        max(by_auditor) AS by_auditor,
        min(by_worker * by_auditor) AS on_every_frame,
        min(coalesce(box_iou, 1.0)) AS worst_iou,
        avg(box_iou) AS mean_iou,
        max(CASE WHEN verdict = 'Fail' THEN 1 ELSE 0 END) AS failed,
        max(CASE WHEN verdict IS NOT NULL THEN 1 ELSE 0 END) AS judged
    FROM iou
    GROUP BY job_name, worker_id, source_ref, object_id
),
judged AS (
    SELECT
        job_name,
        worker_id,
        CAST(sum(by_worker) AS BIGINT) AS objects_audited,
        sum(CASE WHEN by_worker = 1 AND on_every_frame = 1 AND worst_iou >= 0.99 AND failed = 0
            THEN 1 ELSE 0 END) AS objects_unchanged,
        avg(CASE WHEN by_worker = 1 AND by_auditor = 1 THEN 1 - mean_iou END) AS mean_iou_shift,
        CAST(sum(CASE WHEN by_worker = 0 AND by_auditor = 1 THEN 1 ELSE 0 END) AS BIGINT)
            AS objects_added,
        CAST(sum(CASE WHEN by_worker = 1 AND by_auditor = 0 THEN 1 ELSE 0 END) AS BIGINT)
            AS objects_deleted,
        sum(CASE WHEN by_worker = 1 AND judged = 1 AND failed = 0 THEN 1 ELSE 0 END)
            AS objects_passed,
        sum(CASE WHEN by_worker = 1 AND judged = 1 AND failed = 1 THEN 1 ELSE 0 END)
            AS objects_failed
    FROM objects
    GROUP BY job_name, worker_id
)
SELECT
    t.job_name,
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
LEFT JOIN labeled AS l ON l.job_name = t.job_name AND l.worker_id = t.worker_id
LEFT JOIN turned_down AS d ON d.job_name = t.job_name AND d.worker_id = t.worker_id
LEFT JOIN judged AS j ON j.job_name = t.job_name AND j.worker_id = t.worker_id
ORDER BY t.job_name, t.worker_id
