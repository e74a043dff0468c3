"""Document insights: text detection, segmentation, sentiment, and the ingest pipeline."""
