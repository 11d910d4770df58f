"""Assembles the server: servicer, health, reflection, upstream client; starts and drains it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import sys

import grpc
import httpx
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from livetokens.server.admission import Admission
from livetokens.server.fingerprint import Fingerprinter
from livetokens.server.idempotency import IdempotencyCache
from livetokens.server.minting import Minter
from livetokens.server.security.ratelimit import RateLimiter
from livetokens.server.security.runtime import Security, build_security
from livetokens.server.servicer import TokenServicer, add_to_server
from livetokens.server.settings import LimitSettings, Settings, SettingsError
from livetokens.server.state import StateStore, build_store
from livetokens.server.upstream import GeminiTokenClient
from livetokens.v1 import token_service_pb2 as ts

log = logging.getLogger(__name__)

SERVICE_NAME = ts.DESCRIPTOR.services_by_name["TokenService"].full_name


@dataclasses.dataclass
class RunningServer:
    """A started server: its bound port and what must be closed when it stops."""

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

    async def stop(self, grace: float | None) -> None:
        """Drain: report NOT_SERVING, refuse new RPCs, let in-flight ones finish
        within ``grace`` seconds, then close the upstream pool and the audit log."""
        await self.health.enter_graceful_shutdown()
        try:
            await self.server.stop(grace)
        finally:
            try:
                await self.upstream.aclose()
            finally:
                try:
                    if self.security is not None:
                        await self.security.aclose()
                finally:
                    if self.idempotency is not None:
                        await self.idempotency.aclose()
                    if self.state is not None:
                        await self.state.aclose()

    async def reload(self) -> bool:
        """SIGHUP: reload the policy (an invalid file keeps the old one) and reopen the
        audit log; requests in flight are not disturbed. True when the policy changed."""
        return self.security is not None and await self.security.reload()


def server_options(limits: LimitSettings) -> list[tuple[str, int]]:
    """grpc core options from the limits (docs/hardening.md).

    grpc's receive limit is twice ``max_request_bytes``: a request between the two gets
    livetokens' own REQUEST_TOO_LARGE with ErrorInfo, one above it grpc's bare
    RESOURCE_EXHAUSTED without being buffered. grpc core's queue of calls the
    application has not yet picked up is sized so that it never cancels calls silently
    (its default of 1000 does, under bursts); admission control sheds instead.
    """
    return [
        # gRPC's default on Linux, stated because `--workers N` relies on it: N processes
        # bind one port and the kernel spreads connections over them.
        ("grpc.so_reuseport", 1),
        ("grpc.max_receive_message_length", 2 * limits.max_request_bytes),
        ("grpc.server.max_pending_requests", limits.max_pending_calls),
        ("grpc.server.max_pending_requests_hard_limit", limits.max_pending_calls),
    ]


# With a large request checked in a worker thread (minting.INLINE_BYTES), the event
# loop thread waits for the GIL up to the switch interval at every point it releases it
# (each socket call): at CPython's default of 5 ms that added tens of ms per call to the
# other callers' latency (docs/hardening.md); 1 ms keeps the wait short.
SWITCH_INTERVAL = 0.001


async def create_server(
    settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> RunningServer:
    """Build and start the server on ``settings.listen`` (port 0 picks a free port)."""
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
    if settings.api_key is None:
        raise SettingsError("no Gemini API key: set GEMINI_API_KEY or GEMINI_API_KEY_FILE")
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
    idempotency = IdempotencyCache(state, lease=settings.state.lease)
    upstream = GeminiTokenClient(settings.upstream, settings.api_key.reveal(), transport=transport)
    if fingerprinter.ephemeral:
        log.warning(
            "LIVETOKENS_FINGERPRINT_KEY is not set: token fingerprints are stable only "
            "until this process restarts"
        )
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
    server = grpc.aio.server(
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
        options=server_options(settings.limits),
    )
    admission = Admission(settings.limits.max_concurrent_mints)
    add_to_server(
        TokenServicer(minter, security.authenticator, limits=settings.limits, admission=admission),
        server,
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    try:
        port = security.add_port(server, settings.listen)
    except SettingsError:
        await upstream.aclose()
        await security.aclose()
        await state.aclose()
        raise
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("state backend: %s", state.name)
    return RunningServer(
        server, port, health_servicer, upstream, minter, security, state, idempotency, admission
    )


async def serve_until_signalled(running: RunningServer, grace: float) -> None:
    """Wait for SIGTERM or SIGINT, then drain ``running`` within ``grace`` seconds.
    SIGHUP reloads the policy and reopens the audit log."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    reloads: set[asyncio.Task[bool]] = set()

    def reload() -> None:
        log.info("SIGHUP received: reloading the policy, reopening the audit log")
        task = loop.create_task(running.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
        log.info("signal received: draining for up to %.1fs", grace)
        await running.stop(grace)
        log.info("stopped")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
