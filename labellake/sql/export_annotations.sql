-- The annotations of the jobs being exported, in the order the training formats write them.
-- The one parameter is the job names joined by commas (job names hold no commas).
SELECT *
FROM annotations
WHERE list_contains(string_split(?, ','), job_name)
ORDER BY source_ref, frame_no, job_name, object_id
