-- Distribution of box sizes (square root of the area, in 10-pixel bins) per job and class.
SELECT batch_id, job_name, label, bucket AS size_px, shapes AS boxes
FROM annotation_stats
WHERE stat = 'box_size'
ORDER BY job_name, label, size_px
