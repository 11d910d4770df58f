"""Helpers for the observability tests: admin HTTP, gRPC health, scraped metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from livetokens.server import RunningServer
from livetokens.server.settings import ObservabilitySettings

StartServer = Callable[..., Awaitable[RunningServer]]
SERVICE = "livetokens.v1.TokenService"
ADMIN_ON = ObservabilitySettings(admin_listen="127.0.0.1:0", health_listen="127.0.0.1:0")


async def http_get(port: int, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:PORT/PATH: status and body."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def health_status(port: int, service: str = "") -> str:
    """grpc.health.v1 Check on 127.0.0.1:PORT: the status name."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    return health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)


def admin_ports(running: RunningServer) -> tuple[int, int]:
    """The admin HTTP port and the gRPC health port of ``running`` (both must be bound)."""
    assert running.admin is not None
    http, health = running.admin.http_port, running.admin.health_port
    assert http
    assert health
    return http, health


async def scrape(running: RunningServer) -> str:
    """The /metrics text of ``running``'s admin listener."""
    assert running.admin is not None
    assert running.admin.http_port is not None
    status, text = await http_get(running.admin.http_port, "/metrics")
    assert status == 200
    return text


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name`` whose labels include ``labels`` (0 when there is none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def label_values(text: str, name: str, label: str) -> set[str]:
    """Every value of ``label`` on samples named ``name``."""
    return {
        sample.labels[label]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and label in sample.labels
    }
