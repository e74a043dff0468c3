"""Imports of what other tools and sources produced: video files, MOT sequences, Ground Truth
job outputs. Each import reconciles: what it saw = rows written + rows explained."""
