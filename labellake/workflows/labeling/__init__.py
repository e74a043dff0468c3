"""Hierarchical labeling workflows: the batch spec, the engine and its steps, the BatchStore
Protocol with its SQLite and DynamoDB implementations, the labeling backends, QA routing,
notifications and the batch state machine. Owns the labeling tables of the state db."""
