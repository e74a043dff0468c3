-- Time per task in 5-minute bins.
SELECT
    floor(time_spent_s / 300) * 5 AS minutes,
    count(*) AS tasks
FROM worker_responses
WHERE time_spent_s IS NOT NULL
GROUP BY floor(time_spent_s / 300) * 5
ORDER BY minutes
