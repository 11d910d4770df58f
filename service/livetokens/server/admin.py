"""The admin listeners: plaintext, separate from the mTLS port, never serving MintToken.

- ``--admin-listen`` (HTTP, aiohttp): ``GET /livez`` (200 while the process runs),
  ``GET /readyz`` (200 while serving, 503 from SIGTERM on) and ``GET /metrics``
  (Prometheus text format from the server's own registry).
- ``--health-listen`` (gRPC, its own grpc.aio server): only ``grpc.health.v1.Health``,
  so Kubernetes' native ``grpc:`` probes work while the main port demands client
  certificates. Service ``""`` and ``livetokens.v1.TokenService`` are SERVING while
  ready, NOT_SERVING from SIGTERM on.

Two ports because one port cannot carry both HTTP/1.1 and gRPC without a protocol
sniffer; a chart uses the HTTP port for httpGet probes and scraping, or the gRPC one
for ``grpc:`` probes, or both.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

import grpc
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from livetokens.server.settings import SettingsError

log = logging.getLogger(__name__)


class Readiness:
    """Whether this server should get new calls. Starts not ready; ``serving()`` once
    the main listener is up; ``draining()`` on SIGTERM, for good."""

    def __init__(self, services: tuple[str, ...]) -> None:
        self.ready = False
        self._services = services
        self._health: list[health.aio.HealthServicer] = []

    def attach(self, servicer: health.aio.HealthServicer) -> None:
        """Keep ``servicer``'s statuses in step with readiness."""
        self._health.append(servicer)

    async def serving(self) -> None:
        """Report SERVING everywhere."""
        self.ready = True
        for servicer in self._health:
            for name in self._services:
                await servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def draining(self) -> None:
        """Report NOT_SERVING everywhere (and refuse later ``set`` calls)."""
        self.ready = False
        for servicer in self._health:
            await servicer.enter_graceful_shutdown()


class AdminServer:
    """The HTTP admin listener and the gRPC health listener (either may be absent)."""

    def __init__(
        self,
        *,
        http_listen: str | None,
        health_listen: str | None,
        registry: CollectorRegistry,
        readiness: Readiness,
        optional: tuple[str, ...] = (),
    ) -> None:
        """``optional``: listeners ("admin", "health") that may fail to bind with only a
        warning (serve's defaults, not asked for explicitly)."""
        self._optional = optional
        self._http_listen = http_listen
        self._health_listen = health_listen
        self._registry = registry
        self._readiness = readiness
        self._runner: web.AppRunner | None = None
        self._grpc: grpc.aio.Server | None = None
        self.http_port: int | None = None
        self.health_port: int | None = None

    async def start(self) -> None:
        """Bind and start both listeners; raises SettingsError naming the address that
        cannot be bound."""
        try:
            if self._health_listen is not None:
                await self._optionally("health", self._start_health(self._health_listen))
            if self._http_listen is not None:
                await self._optionally("admin", self._start_http(self._http_listen))
        except BaseException:
            await self.stop()
            raise

    async def _optionally(self, name: str, starting: Coroutine[Any, Any, None]) -> None:
        try:
            await starting
        except SettingsError as exc:
            if name not in self._optional:
                raise
            log.warning("%s; going on without it (set --%s-listen to require it)", exc, name)

    async def _start_health(self, listen: str) -> None:
        server = grpc.aio.server()
        servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        try:
            port = server.add_insecure_port(listen)
        except RuntimeError:
            port = 0
        if port == 0:
            raise SettingsError(f"--health-listen: cannot listen on {listen}")
        self._grpc = server
        self.health_port = port
        self._readiness.attach(servicer)
        await self._grpc.start()

    async def _start_http(self, listen: str) -> None:
        app = web.Application()
        app.router.add_get("/livez", self._livez)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        host, _, port = listen.rpartition(":")
        site = web.TCPSite(runner, host.strip("[]"), int(port))
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise SettingsError(
                f"--admin-listen: cannot listen on {listen} ({exc.strerror})"
            ) from None
        self._runner = runner
        self.http_port = int(runner.addresses[0][1])

    async def _livez(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        if self._readiness.ready:
            return web.Response(text="ok\n")
        return web.Response(status=503, text="not serving (starting or draining)\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self._registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    async def stop(self) -> None:
        """Close both listeners."""
        if self._grpc is not None:
            await self._grpc.stop(0)
            self._grpc = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def describe(self) -> str:
        """One line for the start-up log."""
        parts = []
        if self.http_port is not None and self._http_listen is not None:
            host = self._http_listen.rpartition(":")[0]
            parts.append(f"http://{host}:{self.http_port} (/livez /readyz /metrics)")
        if self.health_port is not None and self._health_listen is not None:
            host = self._health_listen.rpartition(":")[0]
            parts.append(f"grpc.health.v1 on {host}:{self.health_port}")
        return ", ".join(parts) or "no admin listener"
