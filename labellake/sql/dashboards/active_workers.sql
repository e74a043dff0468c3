-- Workers who submitted work in the last 7 days of activity the lake has.
SELECT count(DISTINCT worker_id) AS active_workers
FROM worker_responses
WHERE submission_time >= (SELECT max(submission_time) FROM worker_responses) - INTERVAL '7' DAY
