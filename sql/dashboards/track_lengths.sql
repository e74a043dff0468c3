-- Distribution of track lengths (frames per track) per job.
WITH tracks AS (
    SELECT job_name, source_ref, object_id, count(DISTINCT frame_no) AS frames
    FROM annotations
    GROUP BY job_name, source_ref, object_id
)
SELECT job_name, frames, count(*) AS tracks
FROM tracks
GROUP BY job_name, frames
ORDER BY job_name, frames
