"""Models trained on the lake: the labeling-effort model and any tabular regression."""
