"""The service's Prometheus metrics through `prometheus_client` (a registry per service, so two
services in one process never share counters): requests by path and status, their latency,
rows scored, and, read at scrape time from the service, the step and each window's size.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LATENCY_BUCKETS", "ServiceMetrics"]

#: Request latency buckets, seconds.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, float("inf"))


class ServiceMetrics:
    """The metrics of one `RewardService`; ``text()`` is the ``GET /metrics`` answer.

    Metric names: ``rankreward_requests_total{path,status}``, ``rankreward_request_seconds``
    (histogram by path), ``rankreward_rows_total``, ``rankreward_step``,
    ``rankreward_window_values{window}``. Counters only grow.

    Examples:
        >>> from rankreward.rewards import preset
        >>> from rankreward.serve import RewardService
        >>> metrics = ServiceMetrics(RewardService(preset("seg-zero"), name="seg-zero"))
        >>> metrics.observe("/score", 200, 0.002)
        >>> 'rankreward_requests_total{path="/score",status="200"} 1.0' in metrics.text()
        True
    """

    def __init__(self, service: Any) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("rankreward_requests", "HTTP requests by path and status",
                                ["path", "status"], registry=self.registry)  # fmt: skip
        self.seconds = Histogram("rankreward_request_seconds", "request latency by path",
                                 ["path"], buckets=LATENCY_BUCKETS, registry=self.registry)  # fmt: skip
        self.registry.register(_ServiceCollector(service))

    def observe(self, path: str, status: int, seconds: float) -> None:
        """Count one request answered with ``status`` after ``seconds``. O(1)."""
        self.requests.labels(path=path, status=str(status)).inc()
        self.seconds.labels(path=path).observe(seconds)

    def text(self) -> str:
        """The Prometheus text exposition of every metric. O(paths + windows)."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()


class _ServiceCollector:
    """What the service itself knows, read when scraped: rows scored, step, window sizes."""

    def __init__(self, service: Any) -> None:
        self.service = service

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        sizes, step, rows = self.service.snapshot()
        yield CounterMetricFamily("rankreward_rows", "completions scored", value=rows)
        yield GaugeMetricFamily("rankreward_step", "the windows' commit count", value=step)
        windows = GaugeMetricFamily("rankreward_window_values", "values in each window",
                                    labels=["window"])  # fmt: skip
        for key, size in sizes.items():
            windows.add_metric([str(key)], size)
        yield windows
