"""Salesforce ingest and write-back: events onto the pipeline, owners back through the outbox."""
