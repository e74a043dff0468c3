-- Distribution of track lengths (frames per track) per job and class.
SELECT batch_id, job_name, label, CAST(bucket AS BIGINT) AS frames, tracks
FROM annotation_stats
WHERE stat = 'track_length'
ORDER BY job_name, label, frames
