"""Prometheus metrics, one :class:`CollectorRegistry` per server (never the global one,
so tests that run many servers in one process do not collide).

Recording happens at the edges: the servicer reports each MintToken call to
:class:`Metrics` (``begin_mint`` … ``end``), the upstream client reports each HTTP
attempt through its ``observe`` hook, the audit log is wrapped by :class:`TimedAudit`,
and gauges and counters owned by other parts (state store, idempotency cache, admission
control) are read at scrape time through callables set in ``app.py``
(:meth:`Metrics.gauge_source`, :meth:`Metrics.counter_source`).

Label cardinality is bounded: ``caller`` is a caller id the policy knows (callers the
policy does not name collapse to ``unknown``), ``model`` a model id that passed
validation, and each of the two holds at most :data:`MAX_LABEL_VALUES` distinct values
(later ones collapse to ``other``). Token names, API keys and bearer secrets never
appear in a metric.
"""

from __future__ import annotations

import dataclasses
import logging
import platform
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from livetokens.server.validation import MODEL_ID

log = logging.getLogger(__name__)

MAX_LABEL_VALUES = 100
UNKNOWN_CALLER = "unknown"
OVERFLOW = "other"
NO_MODEL = "none"
OK = "OK"
# Outcomes that are not an ErrorInfo reason.
CANCELLED = "CANCELLED"
CUT_OFF = "CUT_OFF"

# Seconds: a mint is a few ms against the emulator and ~100 ms to 1 s against Google.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_AUDIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class BoundedLabel:
    """Maps values to themselves until ``limit`` distinct ones were seen, then to ``other``."""

    def __init__(self, limit: int = MAX_LABEL_VALUES) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        """The label value for ``value``."""
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) < self._limit:
                self._seen.add(value)
                return value
        return OVERFLOW


@dataclasses.dataclass(frozen=True)
class _Source:
    doc: str
    read: Callable[[], float | None]
    counter: bool = False
    labels: tuple[tuple[str, str], ...] = ()


class _CallableMetrics(Collector):
    """Gauges and counters whose value is read from a callable at scrape time (the
    counters are plain attributes of the parts that own them, e.g. the state store)."""

    def __init__(self) -> None:
        self.sources: dict[str, _Source] = {}

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        for name, source in sorted(self.sources.items()):
            label_names = [k for k, _ in source.labels]
            family: GaugeMetricFamily | CounterMetricFamily
            if source.counter:
                family = CounterMetricFamily(name, source.doc, labels=label_names)
            else:
                family = GaugeMetricFamily(name, source.doc, labels=label_names)
            try:
                value = source.read()
            except Exception:  # a scrape must never fail because one source did
                log.exception("metric source %s failed", name)
                value = None
            if value is not None:
                family.add_metric([v for _, v in source.labels], float(value))
            yield family


@dataclasses.dataclass
class MintObservation:
    """One MintToken call being measured; ``end`` it exactly once."""

    metrics: Metrics
    started: float
    caller: str = "-"
    model: str = ""
    outcome: str = OK

    def end(self) -> None:
        """Record the call: counted by caller, model and outcome; its latency observed."""
        m = self.metrics
        m.in_flight.dec()
        m._in_flight -= 1
        caller = m.caller_label(self.caller)
        m.mints.labels(caller, m.model_label(self.model), self.outcome).inc()
        m.mint_duration.observe(time.monotonic() - self.started)
        if self.outcome == "RATE_LIMITED":
            m.rate_limit_refusals.labels(caller).inc()
        elif self.outcome == "OVERLOADED":
            m.admission_refusals.inc()


class Metrics:
    """Every livetokens metric, registered in its own registry (``self.registry``)."""

    def __init__(self, *, known_caller: Callable[[str], bool] | None = None) -> None:
        """``known_caller(id)`` says whether the policy names ``id``; None: every id is
        known (there is no policy file), bounded by :data:`MAX_LABEL_VALUES` alone."""
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._known_caller = known_caller
        self._callers = BoundedLabel()
        self._models = BoundedLabel()
        # Set when the shutdown grace period is over: mints cancelled then are cut off.
        self.grace_over = False
        self._in_flight = 0
        self.mints = Counter(
            "livetokens_mints",
            "MintToken calls by caller, model and outcome (OK or the ErrorInfo reason).",
            ["caller", "model", "outcome"],
            registry=r,
        )
        self.mint_duration = Histogram(
            "livetokens_mint_duration_seconds",
            "MintToken latency as the server saw it, all outcomes.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "livetokens_mints_in_flight", "MintToken calls being handled now.", registry=r
        )
        self.admission_refusals = Counter(
            "livetokens_admission_refusals",
            "MintToken calls refused by admission control (reason OVERLOADED).",
            registry=r,
        )
        self.rate_limit_refusals = Counter(
            "livetokens_rate_limit_refusals",
            "MintToken calls refused by the caller's rate limit (reason RATE_LIMITED).",
            ["caller"],
            registry=r,
        )
        self.drain_cut_off = Counter(
            "livetokens_drain_cut_off_mints",
            "Mints still in flight at the end of the shutdown grace period, cancelled.",
            registry=r,
        )
        self.upstream_duration = Histogram(
            "livetokens_upstream_request_duration_seconds",
            "Duration of each HTTP attempt to Google's token endpoint, by status class.",
            ["status_class"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_attempts = Counter(
            "livetokens_upstream_attempts",
            "HTTP attempts to Google's token endpoint by status class "
            "(2xx, 4xx, 5xx, timeout, error); retries are attempts after the first.",
            ["status_class", "retry"],
            registry=r,
        )
        self.audit_writes = Counter(
            "livetokens_audit_writes",
            "Audit records written (result ok) or not written (result failed).",
            ["result"],
            registry=r,
        )
        self.audit_write_duration = Histogram(
            "livetokens_audit_write_duration_seconds",
            "Time from submitting an audit record to it being written (and fsync'd).",
            buckets=_AUDIT_BUCKETS,
            registry=r,
        )
        self.policy_reloads = Counter(
            "livetokens_policy_reloads",
            "Policy reloads by trigger (signal, watch) and result (ok, invalid).",
            ["trigger", "result"],
            registry=r,
        )
        self.policy_info = Info(
            "livetokens_policy",
            "The policy in force: sha256 of its file, and the file path.",
            registry=r,
        )
        self.build_info = Info(
            "livetokens_build", "Version of livetokens and its runtime.", registry=r
        )
        self.build_info.info(_build_labels())
        self._sources = _CallableMetrics()
        r.register(self._sources)

    def gauge_source(
        self,
        name: str,
        doc: str,
        read: Callable[[], float | None],
        *,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Export ``read()`` as the gauge ``name`` (with constant ``labels``) at each
        scrape (None: no sample)."""
        self._sources.sources[name] = _Source(doc, read, labels=tuple((labels or {}).items()))

    def counter_source(self, name: str, doc: str, read: Callable[[], float | None]) -> None:
        """Export ``read()`` (a count that only grows, owned elsewhere) as the counter
        ``name`` (its sample is ``name_total``) at each scrape (None: no sample)."""
        self._sources.sources[name] = _Source(doc, read, counter=True)

    def caller_label(self, caller: str) -> str:
        """The bounded ``caller`` label for a caller id."""
        if caller == "-":
            return UNKNOWN_CALLER
        if self._known_caller is not None and not self._known_caller(caller):
            return UNKNOWN_CALLER
        return self._callers(caller)

    def model_label(self, model: str) -> str:
        """The bounded ``model`` label for a requested model id."""
        if not model:
            return NO_MODEL
        if not MODEL_ID.match(model):
            return "invalid"
        return self._models(model.removeprefix("models/"))

    def mints_in_flight(self) -> int:
        """MintToken calls being handled now."""
        return self._in_flight

    def begin_mint(self) -> MintObservation:
        """Start measuring one MintToken call."""
        self.in_flight.inc()
        self._in_flight += 1
        return MintObservation(self, time.monotonic())

    def observe_upstream(self, attempt: int, status: str, seconds: float) -> None:
        """The upstream client's hook: one HTTP attempt (1-based) ended with ``status``."""
        self.upstream_duration.labels(status).observe(seconds)
        self.upstream_attempts.labels(status, "false" if attempt == 1 else "true").inc()

    def observe_audit(self, written: bool, seconds: float) -> None:
        """The audit log's hook: one record written (or not) after ``seconds``."""
        self.audit_writes.labels("ok" if written else "failed").inc()
        self.audit_write_duration.observe(seconds)

    def policy_loaded(self, sha256: str, source: str, *, trigger: str | None) -> None:
        """A policy was put in force (``trigger`` None: at start-up); ``sha256`` of its
        text, as the audit log's reload records give it."""
        if trigger is not None:
            self.policy_reloads.labels(trigger, "ok").inc()
        self.policy_info.info({"sha256": sha256 or "none", "source": source})

    def policy_rejected(self, *, trigger: str) -> None:
        """A reload found an invalid policy file; the old policy stays."""
        self.policy_reloads.labels(trigger, "invalid").inc()


def _build_labels() -> dict[str, str]:
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "unknown"

    return {
        "version": version("livetokens"),
        "python": platform.python_version(),
        "grpcio": version("grpcio"),
        "protobuf": version("protobuf"),
    }


def sample_names(registry: CollectorRegistry) -> Iterable[str]:
    """Every sample name in ``registry`` (for tests and the README table)."""
    for family in registry.collect():
        for sample in family.samples:
            yield sample.name
