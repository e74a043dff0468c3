-- The objects of consensus jobs their workers agreed on least (and those too few drew to
-- keep), to review first.
SELECT
    job_name,
    source_ref,
    object_id,
    label,
    workers,
    drawn_by,
    agreement,
    label_agreement,
    kept
FROM consensus_objects
ORDER BY agreement, label_agreement, job_name, source_ref
LIMIT 100
