-- The shapes of one frame of one data object in one job (the frame viewer).
SELECT object_id, object_name, label, shape, box_left, top, width, height, points, audit
FROM annotations
WHERE job_name = ? AND source_ref = ? AND frame_no = ?
ORDER BY object_id
