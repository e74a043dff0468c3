-- Work team performance: per team (the last part of the work team ARN a job was sent to),
-- its jobs, workers, tasks, time per task, objects labeled, tasks returned or declined, and
-- how auditors judged the team's work. Imported jobs with no recorded team show as NULL.
WITH teams AS (
    SELECT job_name, regexp_extract(workteam, '[^/]+$') AS team
    FROM jobs
),
tasks AS (
    SELECT
        t.team,
        count(DISTINCT r.job_name) AS jobs,
        count(DISTINCT r.worker_id) AS workers,
        count(*) AS tasks,
        approx_quantile(r.time_spent_s, 0.5) AS median_seconds_per_task,
        approx_quantile(r.time_spent_s, 0.9) AS p90_seconds_per_task,
        sum(r.time_spent_s) / 3600.0 AS hours
    FROM worker_responses AS r
    LEFT JOIN teams AS t ON t.job_name = r.job_name
    GROUP BY t.team
),
labeled AS (
    SELECT t.team, CAST(sum(s.tracks) AS BIGINT) AS objects
    FROM annotation_stats AS s
    LEFT JOIN teams AS t ON t.job_name = s.job_name
    WHERE s.stat = 'data_object'
    GROUP BY t.team
),
turned_down AS (
    SELECT
        t.team,
        CAST(sum(CASE WHEN e.event_type = 'TasksReturned' THEN 1 ELSE 0 END) AS BIGINT)
            AS tasks_returned,
        CAST(sum(CASE WHEN e.event_type = 'TasksDeclined' THEN 1 ELSE 0 END) AS BIGINT)
            AS tasks_declined
    FROM worker_events AS e
    LEFT JOIN teams AS t ON t.job_name = e.job_name
    GROUP BY t.team
),
judged AS (
    SELECT
        t.team,
        CAST(sum(s.objects_audited) AS BIGINT) AS objects_audited,
        sum(s.objects_unchanged) AS objects_unchanged,
        sum(s.iou_shift_sum) / nullif(sum(s.objects_compared), 0) AS mean_iou_shift,
        sum(s.objects_passed) AS objects_passed,
        sum(s.objects_failed) AS objects_failed
    FROM audit_stats AS s
    LEFT JOIN teams AS t ON t.job_name = s.audited_job
    GROUP BY t.team
)
SELECT
    k.team,
    k.jobs,
    k.workers,
    k.tasks,
    k.median_seconds_per_task,
    k.p90_seconds_per_task,
    k.hours,
    coalesce(l.objects, 0) AS objects_labeled,
    coalesce(d.tasks_returned, 0) AS tasks_returned,
    coalesce(d.tasks_declined, 0) AS tasks_declined,
    j.objects_audited,
    CAST(j.objects_unchanged AS DOUBLE) / nullif(j.objects_audited, 0) AS share_unchanged,
    j.mean_iou_shift,
    CAST(j.objects_passed AS DOUBLE) / nullif(j.objects_passed + j.objects_failed, 0)
        AS pass_rate
FROM tasks AS k
LEFT JOIN labeled AS l ON l.team IS NOT DISTINCT FROM k.team
LEFT JOIN turned_down AS d ON d.team IS NOT DISTINCT FROM k.team
LEFT JOIN judged AS j ON j.team IS NOT DISTINCT FROM k.team
ORDER BY k.team NULLS LAST
