-- Every benchmark row, published and measured, for the Benchmarks page.
SELECT
    run_id, source, model, device, mode, backend, precision, runtime, batch_size, workers, seq_len,
    throughput, throughput_spread, latency_p50, latency_p95, latency_p99, price_per_hour,
    cost_per_million, accuracy_mean_cosine, accuracy_worst_cosine, accuracy_ok, requests,
    duration_s, warmup_s, overhead_share, status, measured_at, environment
FROM benchmark_results
ORDER BY source, device, runtime, precision, mode, batch_size, workers
