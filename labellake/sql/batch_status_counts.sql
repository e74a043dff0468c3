-- Overview tile: how many batches are in each status.
SELECT
    status,
    count(*) AS batches
FROM batches
GROUP BY status
ORDER BY status
