-- Automated QA findings per job and check, with the data objects and tracks they touch, and
-- the format the job was read from (groundtruth, cvat-video, cvat-images, labelstudio, coco).
SELECT
    f.job_name,
    coalesce(any_value(l.source_format), 'groundtruth') AS source_format,
    f.check_name,
    count(*) AS findings,
    count(DISTINCT f.source_ref) AS data_objects,
    count(DISTINCT f.source_ref || '|' || f.object_id) AS tracks
FROM qa_findings AS f
LEFT JOIN etl_loads AS l ON l.job_name = f.job_name
GROUP BY f.job_name, f.check_name
ORDER BY f.job_name, findings DESC
