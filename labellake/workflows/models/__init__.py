"""Models trained on the lake (the labeling-effort model and any tabular regression): the
ModelRunStore Protocol with its SQLite and DynamoDB implementations, datasets, estimators,
HPO, endpoints, SageMaker and the model state machine."""
