"""A run's record: what it holds, defined once, and how it is kept on disk.

schema  the fields of a record, who writes each and its type, the schema version, the check
        every record passes, and the columns each reader takes
store   results/<grid>/<run_id>.json, written atomically, per-run claims, grid.json and
        tuning.json, migration of older schemas
legacy  settings of older schemas and what they mean today

Contract: writers (the trainers, the runner) and readers (the report, the diagnostics, the
budget, the tests) meet here only; neither imports the other. Below the trainers and the grid
language: it imports neither.
"""
