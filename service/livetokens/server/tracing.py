"""OpenTelemetry traces: a span per MintToken (child of the caller's ``traceparent``)
and a child span per upstream HTTP attempt.

Each server has its own :class:`TracerProvider` (never the global one), given to
OpenTelemetry's gRPC aio server interceptor and to its httpx transport wrapper. With
no OTLP endpoint and no provider handed in (tests), nothing is instrumented at all.

What spans hold: the gRPC method, peer address and status code, the ErrorInfo
reason, the caller id (``livetokens.caller``, e.g. ``bearer:app``), the upstream URL
(``…/v1alpha/auth_tokens``; the API key travels in a header, which is not recorded) and
HTTP status. Never a token name, an API key or a bearer
secret: do not turn on OpenTelemetry's header capture
(``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*``), which would record the API key.
"""

from __future__ import annotations

import asyncio
import logging

import grpc
import httpx
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

log = logging.getLogger(__name__)

SERVICE_NAME = "livetokens"


def otlp_provider(endpoint: str) -> TracerProvider:
    """A provider that batches spans to the OTLP/gRPC collector at ``endpoint``."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
    insecure = endpoint.startswith("http://")
    provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, insecure=insecure))
    )
    log.info("traces exported over OTLP/gRPC to %s", endpoint)
    return provider


class Tracing:
    """The instrumentation of one server, or nothing when ``provider`` is None."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self.provider = provider

    def interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        """Server interceptors that start the MintToken span from the caller's context."""
        if self.provider is None:
            return []
        interceptor: grpc.aio.ServerInterceptor = aio_server_interceptor(  # type: ignore[no-untyped-call]
            tracer_provider=self.provider
        )
        return [interceptor]

    def wrap(self, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        """``transport`` with a client span around each upstream HTTP request."""
        if self.provider is None:
            return transport
        return AsyncOpenTelemetryTransport(transport, tracer_provider=self.provider)

    async def shutdown(self) -> None:
        """Flush and stop exporting (at the end of the drain), off the event loop: the
        exporter blocks on its collector."""
        provider, self.provider = self.provider, None
        if provider is not None:
            await asyncio.to_thread(provider.shutdown)


def annotate(reason: str, code: grpc.StatusCode, *, caller: str = "-") -> None:
    """Mark the current span (the MintToken span, if tracing) with the call's outcome
    and caller id (``livetokens.caller``; ``-``, no caller established, is left out).

    The gRPC interceptor does not see ``abort_with_status``, so the status code and
    the ErrorInfo reason are set here. A caller id is a policy name or an identity
    presented by certificate or trusted proxy, never a credential."""
    span = trace.get_current_span()
    if not span.is_recording():
        return
    if caller != "-":
        span.set_attribute("livetokens.caller", caller)
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    span.set_attribute("livetokens.outcome", reason)
    if code != grpc.StatusCode.OK:
        span.set_status(Status(StatusCode.ERROR, reason))
