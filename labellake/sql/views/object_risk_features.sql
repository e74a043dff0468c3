-- What the audit-risk model knows of each labeled object before anyone audits it: its
-- class, shape and geometry, its track's length, the QA findings on it, the worker who
-- drew it (with that worker's latest estimated error rate) and the time they spent.
WITH objects AS (
    SELECT
        job_name,
        source_ref,
        object_id,
        min(label) AS label,
        min(shape) AS shape,
        count(DISTINCT frame_no) AS frames,
        avg(width) AS mean_width,
        avg(height) AS mean_height,
        avg(width / nullif(height, 0)) AS mean_aspect
    FROM annotations
    WHERE audit IS NULL
    GROUP BY job_name, source_ref, object_id
),
clips AS (
    SELECT job_name, source_ref, count(*) AS shapes, count(DISTINCT object_id) AS objects
    FROM annotations
    WHERE audit IS NULL
    GROUP BY job_name, source_ref
),
findings AS (
    SELECT
        job_name,
        source_ref,
        object_id,
        count(*) AS findings,
        count(DISTINCT check_name) AS finding_checks,
        count(DISTINCT frame_no) AS finding_frames
    FROM qa_findings
    GROUP BY job_name, source_ref, object_id
),
workers AS (
    SELECT job_name, source_ref, min(worker_id) AS worker_id, sum(time_spent_s) AS seconds
    FROM worker_responses
    GROUP BY job_name, source_ref
),
ranked_reliability AS (
    SELECT
        worker_id,
        estimate,
        row_number() OVER (PARTITION BY worker_id ORDER BY as_of DESC, job_name DESC) AS newest
    FROM worker_reliability
    WHERE error_type = 'any'
)
SELECT
    o.job_name,
    o.source_ref,
    o.object_id,
    w.worker_id,
    coalesce(o.label, 'unknown') AS label,
    coalesce(o.shape, 'unknown') AS shape,
    CAST(o.frames AS DOUBLE) AS frames,
    coalesce(o.mean_width, 0.0) AS mean_width,
    coalesce(o.mean_height, 0.0) AS mean_height,
    coalesce(o.mean_aspect, 0.0) AS mean_aspect,
    CAST(coalesce(f.findings, 0) AS DOUBLE) AS findings,
    CAST(coalesce(f.finding_checks, 0) AS DOUBLE) AS finding_checks,
    CAST(coalesce(f.finding_frames, 0) AS DOUBLE) AS finding_frames,
    CAST(c.objects AS DOUBLE) AS clip_objects,
    coalesce(w.seconds / nullif(c.shapes, 0), 0.0) AS seconds_per_shape,
    r.estimate AS worker_error
FROM objects AS o
JOIN clips AS c ON c.job_name = o.job_name AND c.source_ref = o.source_ref
LEFT JOIN findings AS f
    ON f.job_name = o.job_name AND f.source_ref = o.source_ref AND f.object_id = o.object_id
LEFT JOIN workers AS w ON w.job_name = o.job_name AND w.source_ref = o.source_ref
LEFT JOIN ranked_reliability AS r ON r.worker_id = w.worker_id AND r.newest = 1
