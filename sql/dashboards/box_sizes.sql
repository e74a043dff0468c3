-- Distribution of box areas (square root, in pixels) per job, in 10-pixel bins.
SELECT
    job_name,
    floor(sqrt(width * height) / 10) * 10 AS size_px,
    count(*) AS boxes
FROM annotations
WHERE shape = 'box' AND width > 0 AND height > 0
GROUP BY job_name, floor(sqrt(width * height) / 10) * 10
ORDER BY job_name, size_px
