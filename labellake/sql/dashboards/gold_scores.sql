-- Gold scores per labeling job: the job's gold clips together (worker null), then each
-- worker's, against the clips' known tracks.
SELECT
    batch_id,
    job_name,
    coalesce(worker_id, '(all workers)') AS worker_id,
    clips,
    gold_objects,
    idf1,
    mota,
    hota,
    deta,
    assa,
    id_switches,
    false_positives,
    misses,
    box_iou,
    attribute_accuracy
FROM gold_scores
ORDER BY job_name, CASE WHEN worker_id IS NULL THEN 0 ELSE 1 END, idf1, worker_id
