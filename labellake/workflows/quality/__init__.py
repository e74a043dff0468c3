"""The quality layer over labeling work: tracks compared as wholes (matching, consensus),
and, built on them, gold scores, worker reliability, risk routing and the quality bound of
what ships."""
