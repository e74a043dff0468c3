-- Distribution of track lengths (frames per track) per job.
SELECT job_name, CAST(bucket AS BIGINT) AS frames, tracks
FROM annotation_stats
WHERE stat = 'track_length'
ORDER BY job_name, frames
