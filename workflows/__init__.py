"""Orchestration: batch spec, state store, engine, labeling backends, REST API."""
