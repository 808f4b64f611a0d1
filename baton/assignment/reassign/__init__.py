"""Batch reassignment: a back-office job reads records (Bulk API 2.0 query or a CSV file), routes each once
through the pipeline and writes the new owners with Bulk API 2.0 ingest; ``--dry-run`` only reports."""
