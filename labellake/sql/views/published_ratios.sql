-- The reference's ratios, from its rows: each published configuration against the GPU
-- baseline (g4dn.xlarge) at the same batch size, or where the GPU has no row for that
-- batch size, against its best-throughput row. Throughput ratio = row / baseline; cost
-- ratio = baseline cost / row cost (how many times cheaper).
WITH published AS (
    SELECT * FROM benchmark_results WHERE source = 'published'
),
gpu AS (
    SELECT * FROM published WHERE device = 'g4dn.xlarge'
),
best_gpu AS (
    SELECT * FROM gpu ORDER BY throughput DESC LIMIT 1
)
SELECT
    p.device,
    p.batch_size,
    p.mode,
    p.workers,
    p.throughput,
    p.latency_p95,
    p.cost_per_million,
    coalesce(g.batch_size, b.batch_size) AS baseline_batch_size,
    p.throughput / coalesce(g.throughput, b.throughput) AS throughput_ratio,
    coalesce(g.cost_per_million, b.cost_per_million) / p.cost_per_million AS cost_ratio
FROM published AS p
LEFT JOIN gpu AS g ON g.batch_size = p.batch_size
CROSS JOIN best_gpu AS b
ORDER BY p.batch_size, p.throughput DESC
