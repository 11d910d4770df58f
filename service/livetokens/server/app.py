"""Assembles the server: servicer, health, reflection, upstream client, admin listeners,
metrics, traces, the policy watch; starts it, and drains it so that probes can see.

Drain on SIGTERM: (1) readiness reports NOT_SERVING (gRPC health on both ports,
HTTP /readyz 503) for ``drain_delay`` seconds while the main listener still accepts
calls, so the endpoint is removed before anyone is refused; (2) the listener stops
accepting; (3) calls in flight get ``grace_period`` seconds; those still running
then are cancelled, logged and counted (``livetokens_drain_cut_off_mints_total``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys

import grpc
import httpx
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.sdk.trace import TracerProvider

from livetokens.server.admin import AdminServer, Readiness
from livetokens.server.admission import Admission
from livetokens.server.fingerprint import Fingerprinter
from livetokens.server.idempotency import IdempotencyCache
from livetokens.server.metrics import Metrics
from livetokens.server.minting import Minter
from livetokens.server.policy_watch import PolicyWatcher
from livetokens.server.security.ratelimit import RateLimiter
from livetokens.server.security.runtime import Security, build_security
from livetokens.server.servicer import TokenServicer, add_to_server
from livetokens.server.settings import (
    LimitSettings,
    ObservabilitySettings,
    Settings,
    SettingsError,
)
from livetokens.server.state import GuardedStore, StateStore, build_store
from livetokens.server.state_metrics import export_state
from livetokens.server.tracing import Tracing, otlp_provider
from livetokens.server.upstream import GeminiTokenClient, default_transport
from livetokens.v1 import token_service_pb2 as ts

log = logging.getLogger(__name__)

# Seconds between pings of a shared state backend while no call needs it (the
# livetokens_state_backend_up gauge follows Redis on an idle replica too).
PROBE_INTERVAL = 5.0
SERVICE_NAME = ts.DESCRIPTOR.services_by_name["TokenService"].full_name


@dataclasses.dataclass
class RunningServer:
    """A started server: its bound ports and what must be closed when it stops."""

    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    upstream: GeminiTokenClient
    minter: Minter
    security: Security | None = None
    state: StateStore | None = None
    idempotency: IdempotencyCache | None = None
    # Mints in progress and shed (OVERLOADED) counters, for metrics.
    admission: Admission | None = None
    metrics: Metrics = dataclasses.field(default_factory=Metrics)
    readiness: Readiness = dataclasses.field(default_factory=lambda: Readiness(()))
    admin: AdminServer | None = None
    tracing: Tracing = dataclasses.field(default_factory=lambda: Tracing(None))
    watcher: PolicyWatcher | None = None

    async def stop(self, grace: float | None, *, drain_delay: float = 0.0) -> None:
        """Drain: report NOT_SERVING, keep accepting for ``drain_delay`` seconds, refuse
        new RPCs, let in-flight ones finish within ``grace`` seconds (the rest are cut
        off, logged and counted), then close the upstream pool, the audit log and the
        admin listeners (last, so that /metrics can be scraped during the drain)."""
        await self.readiness.draining()
        if self.watcher is not None:
            await self.watcher.stop()
        if drain_delay > 0:
            log.info("not serving; still accepting calls for %.1fs", drain_delay)
            await asyncio.sleep(drain_delay)
        timer = asyncio.get_running_loop().call_later(grace or 0.0, self._grace_over)
        try:
            await self.server.stop(grace)
        finally:
            timer.cancel()
            try:
                await self.upstream.aclose()
            finally:
                try:
                    if self.security is not None:
                        await self.security.aclose()
                finally:
                    try:
                        if self.idempotency is not None:
                            await self.idempotency.aclose()
                        if self.state is not None:
                            await self.state.aclose()
                    finally:
                        await self.tracing.shutdown()
                        if self.admin is not None:
                            await self.admin.stop()

    def _grace_over(self) -> None:
        self.metrics.grace_over = True
        in_flight = self.metrics.mints_in_flight()
        if in_flight:
            log.warning("grace period over: cutting off %d mints in flight", in_flight)

    async def reload(self, trigger: str = "signal") -> bool:
        """Reload the policy (an invalid file keeps the old one) and reopen the audit
        log; requests in flight are not disturbed. True when the policy changed. The
        result is counted (``trigger``: signal or watch) and the policy hash updated."""
        if self.security is None:
            return False
        reloaded = await self.security.reload()
        path = self.security.policies.path
        if path is not None:
            if reloaded:
                sha256 = self.security.policies.current().sha256
                self.metrics.policy_loaded(sha256, str(path), trigger=trigger)
            else:
                self.metrics.policy_rejected(trigger=trigger)
        return reloaded


def _metrics_for(security: Security) -> Metrics:
    policies = security.policies
    if policies.path is None:
        return Metrics()
    return Metrics(known_caller=lambda caller: policies.current().for_caller(caller) is not None)


def server_options(limits: LimitSettings, obs: ObservabilitySettings) -> list[tuple[str, int]]:
    """grpc core options from the limits (docs/hardening.md) and the connection settings.

    grpc's receive limit is twice ``max_request_bytes``: a request between the two gets
    livetokens' own REQUEST_TOO_LARGE with ErrorInfo, one above it grpc's bare
    RESOURCE_EXHAUSTED without being buffered. grpc core's queue of calls the
    application has not yet picked up is sized so that it never cancels calls silently
    (its default of 1000 does, under bursts); admission control sheds instead.

    A connection gets a GOAWAY after ``max_connection_age`` (grpc-core adds +-10%
    jitter), so a mesh or an L4 balancer can rebalance, and clients reconnect
    transparently; keepalive pings find dead peers.
    """
    options = [
        # gRPC's default on Linux, stated because `--workers N` relies on it: N processes
        # bind one port and the kernel spreads connections over them.
        ("grpc.so_reuseport", 1),
        ("grpc.max_receive_message_length", 2 * limits.max_request_bytes),
        ("grpc.server.max_pending_requests", limits.max_pending_calls),
        ("grpc.server.max_pending_requests_hard_limit", limits.max_pending_calls),
        ("grpc.keepalive_permit_without_calls", 1),
        # Clients may ping every 10 s or more without being told "too many pings".
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ]
    if obs.keepalive_time > 0:
        options.append(("grpc.keepalive_time_ms", int(obs.keepalive_time * 1000)))
        options.append(("grpc.keepalive_timeout_ms", int(obs.keepalive_timeout * 1000)))
    if obs.max_connection_age > 0:
        options.append(("grpc.max_connection_age_ms", int(obs.max_connection_age * 1000)))
        options.append(
            ("grpc.max_connection_age_grace_ms", int(obs.max_connection_age_grace * 1000))
        )
    return options


# With a large request checked in a worker thread (offload.INLINE_BYTES), the event
# loop thread waits for the GIL up to the switch interval at every point it releases it
# (each socket call): at CPython's default of 5 ms that added tens of ms per call to the
# other callers' latency (docs/hardening.md); 1 ms keeps the wait short.
SWITCH_INTERVAL = 0.001


async def create_server(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    tracer_provider: TracerProvider | None = None,
) -> RunningServer:
    """Build and start the server on ``settings.listen`` (port 0 picks a free port),
    with its admin listeners when configured. ``tracer_provider``: trace into it (tests);
    otherwise traces go to ``settings.observability.otlp_endpoint`` when it is set."""
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
    if settings.api_key is None:
        raise SettingsError("no Gemini API key: set GEMINI_API_KEY or GEMINI_API_KEY_FILE")
    obs = settings.observability
    key = settings.fingerprint_key.reveal().encode() if settings.fingerprint_key else None
    fingerprinter = Fingerprinter(key)
    state = build_store(settings.state)
    security = build_security(
        settings.listen,
        settings.security,
        fingerprint=fingerprinter,
        fingerprint_key=key,
        summary={
            "listen": settings.listen,
            "upstream": settings.upstream.base_url,
            "api_version": settings.upstream.api_version,
            "fingerprint_key": "set" if key else "ephemeral",
        },
        rate_limiter=RateLimiter(store=state),
    )
    metrics = _metrics_for(security)
    policy_path = security.policies.path
    if policy_path is not None:
        sha256 = security.policies.current().sha256
        metrics.policy_loaded(sha256, str(policy_path), trigger=None)
    if tracer_provider is None and obs.otlp_endpoint:
        tracer_provider = otlp_provider(obs.otlp_endpoint)
    tracing = Tracing(tracer_provider)
    upstream = GeminiTokenClient(
        settings.upstream,
        settings.api_key.reveal(),
        transport=tracing.wrap(transport or default_transport(settings.upstream)),
        observe=metrics.observe_upstream,
    )
    if fingerprinter.ephemeral:
        log.warning(
            "LIVETOKENS_FINGERPRINT_KEY is not set: token fingerprints are stable only "
            "until this process restarts"
        )
    idempotency = IdempotencyCache(state, lease=settings.state.lease)
    minter = Minter(
        upstream,
        base_url=settings.upstream.base_url,
        api_version=settings.upstream.api_version,
        fingerprinter=fingerprinter,
        idempotency=idempotency,
        policies=security.policies,
        rate_limiter=security.rate_limiter,
        audit=security.audit,
        audit_fail_open=settings.security.audit_fail_open,
    )
    export_state(metrics, state, idempotency)
    if security.audit is not None:
        security.audit.observe = metrics.observe_audit
    server = grpc.aio.server(
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        interceptors=tracing.interceptors(),
        options=server_options(settings.limits, obs),
    )
    admission = Admission(settings.limits.max_concurrent_mints)
    add_to_server(
        TokenServicer(
            minter,
            security.authenticator,
            limits=settings.limits,
            admission=admission,
            metrics=metrics,
        ),
        server,
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    readiness = Readiness(("", SERVICE_NAME))
    readiness.attach(health_servicer)
    admin = AdminServer(
        http_listen=obs.admin_listen,
        health_listen=obs.health_listen,
        registry=metrics.registry,
        readiness=readiness,
        optional=obs.optional_listeners,
    )
    try:
        port = security.add_port(server, settings.listen)
        await admin.start()
    except SettingsError:
        await upstream.aclose()
        await security.aclose()
        await state.aclose()
        raise
    await server.start()
    await readiness.serving()
    if isinstance(state, GuardedStore):
        line = await state.check()
        if state.down or "NOT reachable" in line:
            log.warning("%s", line)
        else:
            log.info("%s", line)
        state.start_probing(PROBE_INTERVAL)
    else:
        log.info("state backend: %s (per process)", state.name)
    running = RunningServer(
        server,
        port,
        health_servicer,
        upstream,
        minter,
        security,
        state,
        idempotency,
        admission,
        metrics=metrics,
        readiness=readiness,
        admin=admin,
        tracing=tracing,
    )
    if policy_path is not None and obs.policy_poll_interval > 0:
        running.watcher = PolicyWatcher(
            policy_path, obs.policy_poll_interval, lambda: running.reload("watch")
        )
        running.watcher.start()
    return running


async def serve_until_signalled(
    running: RunningServer, grace: float, *, drain_delay: float = 0.0
) -> None:
    """Wait for SIGTERM or SIGINT, then drain ``running``: NOT_SERVING for
    ``drain_delay`` seconds (after SIGTERM only; an operator's Ctrl-C skips it), then
    in-flight calls get ``grace`` seconds. SIGHUP reloads the policy and reopens the
    audit log."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    reloads: set[asyncio.Task[bool]] = set()
    received: list[signal.Signals] = []

    def reload() -> None:
        log.info("SIGHUP received: reloading the policy, reopening the audit log")
        task = loop.create_task(running.reload("signal"))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    def stopping(sig: signal.Signals) -> None:
        received.append(sig)
        stop.set()

    loop.add_signal_handler(signal.SIGHUP, reload)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping, sig)
    try:
        await stop.wait()
        delay = drain_delay if received[0] == signal.SIGTERM else 0.0
        log.info(
            "%s received: not serving; accepting for %.1fs more, then draining for up to %.1fs",
            received[0].name,
            delay,
            grace,
        )
        await running.stop(grace, drain_delay=delay)
        log.info("stopped")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
