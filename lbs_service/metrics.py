"""Process-local counters in the Prometheus text format (each worker reports its own)."""

from collections import Counter
from threading import Lock

_counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
_lock = Lock()
_HELP = {
    "lbs_fixes_total": "location fixes received, by outcome",
    "lbs_arrivals_total": "arrival alerts recorded",
    "lbs_promotions_sent_total": "promotions recorded for users",
    "lbs_promotions_suppressed_total": "promotions not sent, by reason",
    "lbs_outbox_relayed_total": "outbox messages moved to the streams",
    "lbs_http_requests_total": "HTTP requests, by method, route and status",
    "lbs_websocket_slow_closed_total": "websockets closed (4008) for falling a full queue behind",
    "lbs_fence_eval_seconds": "time to evaluate one fix against every fence around it",
}
_sums: dict[str, list[float]] = {}  # summaries: name -> [sum of seconds, count]


def count(name: str, amount: int = 1, **labels: str) -> None:
    with _lock:
        _counts[(name, tuple(sorted(labels.items())))] += amount


def observe(name: str, seconds: float) -> None:
    with _lock:
        total = _sums.setdefault(name, [0.0, 0])
        total[0] += seconds
        total[1] += 1


def value(name: str, **labels: str) -> int:
    return _counts[(name, tuple(sorted(labels.items())))]


def render(gauges: dict[str, float]) -> str:
    lines = []
    with _lock:
        items = sorted(_counts.items())
    names_seen: set[str] = set()
    for (name, labels), amount in items:
        if name not in names_seen:
            names_seen.add(name)
            lines += [f"# HELP {name} {_HELP.get(name, name)}", f"# TYPE {name} counter"]
        label_text = ",".join(f'{k}="{v}"' for k, v in labels)
        lines.append(f"{name}{{{label_text}}} {amount}" if label_text else f"{name} {amount}")
    with _lock:
        summaries = sorted((name, list(total)) for name, total in _sums.items())
    for name, (seconds, observed) in summaries:
        lines += [f"# HELP {name} {_HELP.get(name, name)}", f"# TYPE {name} summary", f"{name}_sum {seconds:.6f}",
                  f"{name}_count {int(observed)}"]
    for gauge, level in sorted(gauges.items()):
        lines += [f"# TYPE {gauge} gauge", f"{gauge} {level}"]
    return "\n".join(lines) + "\n"
