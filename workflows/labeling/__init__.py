"""Hierarchical labeling workflows: batch spec, state store, engine, backends."""
