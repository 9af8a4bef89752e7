"""Prometheus metrics through prometheus-client, declared in one table.

With several worker processes (`lbs serve --workers N`) the client's multiprocess mode is on
(PROMETHEUS_MULTIPROC_DIR, set by `lbs serve` before the workers start): every worker writes its
values to files there and one scrape of /metrics, whichever worker answers it, reports the whole
server. With one process the default registry is used.
"""

import os
from collections.abc import Sequence
from typing import Any, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_FAST = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01)
_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)

_COUNTERS: dict[str, tuple[str, Sequence[str]]] = {
    "lbs_fixes_total": ("location fixes received, by outcome", ("outcome",)),
    "lbs_arrivals_total": ("staff cards sent (the first message of a carded visit)", ()),
    "lbs_visit_changes_total": ("visit starts and stage changes the database took", ()),
    "lbs_promotions_sent_total": ("promotions recorded for users", ()),
    "lbs_promotions_suppressed_total": ("promotions not sent, by reason", ("reason",)),
    "lbs_outbox_relayed_total": ("outbox messages moved to the streams by the relay", ()),
    "lbs_http_requests_total": ("HTTP requests, by method, route and status", ("method", "route", "status")),
    "lbs_websocket_slow_closed_total": ("websockets closed (4008) for falling a full queue behind", ()),
    "lbs_coverage_chunks_total": ("coverage chunks measured (10,000 cells each)", ()),
    "lbs_staff_replies_total": ("staff answers to visit cards sent to customers", ()),
    "lbs_escalations_total": ("visit cards raised again because nobody acknowledged them", ()),
    "lbs_webpush_requests_total": ("Web Push requests to push services, by status ('none': no answer)", ("status",)),
    "lbs_webpush_settled_total": ("Web Push deliveries finished, by state", ("state",)),
    "lbs_webpush_subscriptions_gone_total": ("push subscriptions removed because the push service said 404/410",
                                             ()),
}
_HISTOGRAMS: dict[str, tuple[str, Sequence[str], Sequence[float]]] = {
    "lbs_http_request_seconds": ("HTTP request latency, by route", ("route",), _LATENCY),
    "lbs_fix_to_alert_seconds": ("from a fix's arrival at the server to its staff card on the stream", (), _LATENCY),
    "lbs_fence_eval_seconds": ("time to evaluate one fix against every visit around it", (), _FAST),
    "lbs_group_commit_seconds": ("one group commit's transaction", (), _LATENCY),
    "lbs_group_commit_effects": ("effects committed together in one transaction", (), _SIZES),
}
GaugeMode = Literal["livesum", "max", "mostrecent"]
_GAUGES: dict[str, tuple[str, GaugeMode]] = {  # name -> (help, multiprocess mode)
    "lbs_websocket_subscribers": ("open websocket subscriptions", "livesum"),
    "lbs_stores_indexed": ("stores in the in-memory index", "max"),
    "lbs_outbox_pending": ("outbox messages committed and not yet on the streams", "max"),
    "lbs_outbox_lag_seconds": ("how long the oldest pending outbox message has waited", "max"),
    "lbs_group_commit_backlog": ("users' effects waiting for the next group commit", "livesum"),
    "lbs_live_users": ("users whose visits this server tracks live", "livesum"),
}

_metrics: dict[str, Any] = {}
for _name, (_help, _labels) in _COUNTERS.items():
    _metrics[_name] = Counter(_name.removesuffix("_total"), _help, _labels)
for _name, (_help, _labels, _buckets) in _HISTOGRAMS.items():
    _metrics[_name] = Histogram(_name, _help, _labels, buckets=_buckets)
for _name, (_help, _mode) in _GAUGES.items():
    _metrics[_name] = Gauge(_name, _help, multiprocess_mode=_mode)


def _child(name: str, labels: dict[str, str]) -> Any:
    metric = _metrics[name]
    return metric.labels(**labels) if labels else metric


def bound(name: str, **labels: str) -> Any:
    """The metric with these labels, resolved once for a hot path (`.inc()`, `.observe()`)."""
    return _child(name, labels)


def count(name: str, amount: float = 1, **labels: str) -> None:
    if amount:
        _child(name, labels).inc(amount)


def observe(name: str, value: float, **labels: str) -> None:
    _child(name, labels).observe(value)


def set_gauge(name: str, value: float) -> None:
    _metrics[name].set(value)


def add_gauge(name: str, delta: float) -> None:
    _metrics[name].inc(delta)


def value(name: str, **labels: str) -> float:
    """A counter's value in this process (tests, benchmarks)."""
    return float(_child(name, labels)._value.get())


def render() -> tuple[bytes, str]:
    """The exposition text of the whole server (every worker, in multiprocess mode)."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def process_exited(pid: int) -> None:
    """Drop a worker's live gauges once it has gone (multiprocess mode)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
