"""Prometheus metrics: Baton's own, dramatiq's, and where each process exposes them."""
