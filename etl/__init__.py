"""Pure flatteners: raw JSON (Ground Truth, Textract, benchmark runs) -> Arrow tables."""
