"""Raw records -> catalog-typed Arrow tables, and their loads into the lake.

The flatteners (labeling, textract and paragraphs, benchmarks, workers, qa) are pure
functions of what they are given. The loaders (jobs, imports, batches, export) read
and write only through a Lake, an object store or a reader passed in, and never touch
the workflow state store. Every import reconciles: shapes seen = rows written + rows
explained in etl_errors.
"""
