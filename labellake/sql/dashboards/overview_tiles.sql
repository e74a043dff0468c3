-- Overview tiles: batches, annotations, workers and open QA findings in one row.
SELECT
    (SELECT count(*) FROM batches) AS batches,
    (SELECT count(*) FROM batches WHERE status = 'COMPLETE') AS batches_complete,
    (SELECT coalesce(sum(shapes), 0) FROM annotation_stats WHERE stat = 'class') AS annotations,
    (SELECT count(DISTINCT source_ref) FROM labels) AS objects_labeled,
    (SELECT count(DISTINCT worker_id) FROM worker_responses) AS workers,
    (SELECT count(*) FROM qa_findings) AS qa_findings
