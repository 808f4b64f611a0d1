"""The metrics server ``dramatiq workers`` forks beside its worker processes: their samples, summed."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from baton.settings import Settings

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _WorkerMetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        from dramatiq.middleware.prometheus import DB_PATH

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=DB_PATH)
        body = generate_latest(registry)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_worker_metrics() -> int:
    """``dramatiq workers`` runs this in its own process: every worker process's metrics, summed, on
    ``BATON_METRICS_HOST:BATON_METRICS_PORT``."""
    settings = Settings()
    server = ThreadingHTTPServer((settings.metrics_host, settings.metrics_port), _WorkerMetricsHandler)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
