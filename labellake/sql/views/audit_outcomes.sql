-- What each audit job decided: objects passed or failed, and data objects adjusted.
WITH verdicts AS (
    SELECT
        job_name,
        source_ref,
        object_id,
        max(CASE WHEN audit = 'Fail' THEN 1 ELSE 0 END) AS failed
    FROM annotations
    WHERE audit IS NOT NULL
    GROUP BY job_name, source_ref, object_id
),
adjustments AS (
    SELECT
        job_name,
        count(*) AS data_objects,
        CAST(sum(CASE WHEN adjustment_status = 'adjusted' THEN 1 ELSE 0 END) AS BIGINT) AS adjusted
    FROM labels
    WHERE metadata_job_name = job_name AND adjustment_status IS NOT NULL
    GROUP BY job_name
)
SELECT
    v.job_name,
    a.data_objects,
    a.adjusted AS data_objects_adjusted,
    count(*) AS objects,
    CAST(sum(1 - v.failed) AS BIGINT) AS objects_passed,
    CAST(sum(v.failed) AS BIGINT) AS objects_failed,
    CAST(sum(v.failed) AS DOUBLE) / count(*) AS fail_rate
FROM verdicts AS v
LEFT JOIN adjustments AS a ON a.job_name = v.job_name
GROUP BY v.job_name, a.data_objects, a.adjusted
ORDER BY v.job_name
