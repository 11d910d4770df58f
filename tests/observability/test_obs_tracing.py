"""Traces: the caller's traceparent is the MintToken span's parent, the upstream POST
its child, and no span holds a secret."""

from __future__ import annotations

import pathlib
import secrets
import uuid
from concurrent import futures
from typing import Any

import grpc
import pytest
from lt_support import API_KEY, seed_request
from obs_support import StartServer
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as otlp
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as otlp_grpc
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from livetokens.server.security.policy import hash_secret
from livetokens.server.settings import ObservabilitySettings, SecuritySettings
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

APP = "tracing-app-secret-" + secrets.token_hex(8)
TRACE_ID = secrets.token_hex(16)
PARENT_SPAN_ID = secrets.token_hex(8)
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"


def _texts(span: ReadableSpan) -> list[str]:
    texts = [span.name, str(span.status.description)]
    texts += [f"{k}={v}" for k, v in (span.attributes or {}).items()]
    for event in span.events:
        texts.append(event.name)
        texts += [f"{k}={v}" for k, v in (event.attributes or {}).items()]
    return texts


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """Spans end up here, synchronously."""
    return InMemorySpanExporter()


async def test_the_caller_trace_continues_through_the_mint_to_the_upstream_post(
    start_server: StartServer, exporter: InMemorySpanExporter, tmp_path: pathlib.Path
) -> None:
    """traceparent → MintToken server span (with the caller id) → upstream POST client
    span; no secrets."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[callers.app]\ncredentials = ["{hash_secret(APP)}"]\n')
    running = await start_server(
        tracer_provider=provider, security=SecuritySettings(policy_file=policy)
    )
    metadata = (("traceparent", TRACEPARENT), ("authorization", f"Bearer {APP}"))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = ts_grpc.TokenServiceStub(channel)
        token = await stub.MintToken(
            seed_request(request_id=str(uuid.uuid4())), timeout=10, metadata=metadata
        )
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.MintToken(ts.TokenRequest(uses=-1), timeout=10, metadata=metadata)

    spans = exporter.get_finished_spans()
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    clients = [s for s in spans if s.kind == SpanKind.CLIENT]
    assert [s.name for s in servers] == ["/livetokens.v1.TokenService/MintToken"] * 2
    assert len(clients) == 1
    minted, refused = servers
    for server in servers:
        assert server.context is not None
        assert server.parent is not None
        assert format(server.context.trace_id, "032x") == TRACE_ID
        assert format(server.parent.span_id, "016x") == PARENT_SPAN_ID
    upstream = clients[0]
    assert upstream.parent is not None
    assert minted.context is not None
    assert upstream.parent.span_id == minted.context.span_id
    assert (upstream.attributes or {}).get("http.request.method", "POST") == "POST"
    assert minted.status.status_code != StatusCode.ERROR
    assert (refused.attributes or {})["livetokens.outcome"] == "INVALID_REQUEST"
    assert (refused.attributes or {})[
        "rpc.grpc.status_code"
    ] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert refused.status.status_code == StatusCode.ERROR
    for server in servers:
        assert (server.attributes or {})["livetokens.caller"] == "bearer:app"

    texts = "\n".join(t for span in spans for t in _texts(span))
    for secret in (APP, API_KEY, token.name, token.name.removeprefix("auth_tokens/")):
        assert secret not in texts
    # No authorization header (the caller id "bearer:app" names the method, not a secret).
    assert "bearer " not in texts.lower()
    assert "authorization" not in texts.lower()


class Collector(otlp_grpc.TraceServiceServicer):
    """A minimal OTLP/gRPC trace collector that keeps what it receives."""

    def __init__(self) -> None:
        self.requests: list[otlp.ExportTraceServiceRequest] = []

    def Export(
        self, request: otlp.ExportTraceServiceRequest, context: Any
    ) -> otlp.ExportTraceServiceResponse:
        """Keep the spans."""
        self.requests.append(request)
        return otlp.ExportTraceServiceResponse()


async def test_spans_are_exported_over_otlp_when_an_endpoint_is_set(
    start_server: StartServer,
) -> None:
    """--otlp-endpoint: the MintToken and upstream spans reach a real OTLP/gRPC collector,
    flushed at shutdown, tagged service.name=livetokens."""
    collector = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    otlp_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        running = await start_server(
            observability=ObservabilitySettings(otlp_endpoint=f"http://127.0.0.1:{port}")
        )
        async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            await ts_grpc.TokenServiceStub(channel).MintToken(
                seed_request(), timeout=10, metadata=(("traceparent", TRACEPARENT),)
            )
        await running.stop(1)
    finally:
        server.stop(0)
    spans = [
        (resource, span)
        for request in collector.requests
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    assert sorted(span.name for _, span in spans) == [
        "/livetokens.v1.TokenService/MintToken",
        "POST",
    ]
    for resource, span in spans:
        assert span.trace_id.hex() == TRACE_ID
        attributes = {a.key: a.value.string_value for a in resource.resource.attributes}
        assert attributes["service.name"] == "livetokens"
