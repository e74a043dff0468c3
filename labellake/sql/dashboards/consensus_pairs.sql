-- How much each pair of workers agreed, over the data objects both labeled in a
-- consensus job.
SELECT
    job_name,
    worker_a,
    worker_b,
    count(*) AS data_objects,
    avg(agreement) AS agreement
FROM consensus_agreement
GROUP BY job_name, worker_a, worker_b
ORDER BY agreement, job_name, worker_a, worker_b
