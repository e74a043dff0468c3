"""Model-serving benchmarks: a runner for transformer inference, prices, published rows."""
