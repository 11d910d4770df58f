"""Every upstream failure maps through the one table to a status with ErrorInfo."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import grpc
import httpx
import pytest
from lt_support import API_KEY

from livetokens.client import ErrorDetails, error_details
from livetokens.emulator import Emulator, Fault
from livetokens.server import upstream
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

REQUEST = ts.TokenRequest(constraints=ts.LiveConstraints(model="gemini-live-2.5-flash-preview"))


async def mint_error(
    start_server: Any, request: ts.TokenRequest = REQUEST, deadline_s: float = 5, **overrides: Any
) -> ErrorDetails:
    running = await start_server(**overrides)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ts_grpc.TokenServiceStub(channel).MintToken(request, timeout=deadline_s)
    details = error_details(caught.value)
    assert details.domain == "livetokens.v1.TokenService"
    assert API_KEY not in details.message
    return details


def google_error(
    status: int, name: str, message: str, *details: dict[str, Any]
) -> Callable[[httpx.Request], httpx.Response]:
    body = {"error": {"code": status, "message": message, "status": name, "details": list(details)}}
    return lambda request: httpx.Response(status, json=body)


async def test_google_400_on_our_body_is_invalid_argument(
    start_server: Any, emulator: Emulator
) -> None:
    """HTTP 400 INVALID_ARGUMENT → INVALID_ARGUMENT / UPSTREAM_REJECTED_REQUEST, not retried."""
    emulator.faults.push(
        Fault.status(400, message="field_mask is invalid for BidiGenerateContentSetup")
    )
    details = await mint_error(start_server)
    assert (details.code, details.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "UPSTREAM_REJECTED_REQUEST",
    )
    assert "field_mask is invalid" in details.message
    assert details.metadata["httpStatus"] == "400"
    assert len(emulator.requests) == 1


async def test_google_refusing_our_key_is_an_operator_error(
    start_server: Any, emulator: Emulator
) -> None:
    """400 API_KEY_INVALID → INTERNAL / UPSTREAM_CREDENTIALS_REJECTED, not blaming the caller."""
    from livetokens.server.settings import Secret

    details = await mint_error(start_server, api_key=Secret("wrong-key-ABCDEFGH"))
    assert (details.code, details.reason) == (
        grpc.StatusCode.INTERNAL,
        "UPSTREAM_CREDENTIALS_REJECTED",
    )
    assert details.metadata["upstreamReason"] == "API_KEY_INVALID"
    assert "not a problem with your request" in details.message
    assert "wrong-key-ABCDEFGH" not in details.message


async def test_google_403_is_an_operator_error(start_server: Any) -> None:
    """403 PERMISSION_DENIED (key lacks permission) → INTERNAL / UPSTREAM_CREDENTIALS_REJECTED."""
    handler = google_error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers")
    details = await mint_error(start_server, transport=httpx.MockTransport(handler))
    assert (details.code, details.reason) == (
        grpc.StatusCode.INTERNAL,
        "UPSTREAM_CREDENTIALS_REJECTED",
    )


async def test_google_failed_precondition_passes_through(start_server: Any) -> None:
    """400 FAILED_PRECONDITION (no billing in region) → FAILED_PRECONDITION."""
    handler = google_error(400, "FAILED_PRECONDITION", "User location is not supported")
    details = await mint_error(start_server, transport=httpx.MockTransport(handler))
    assert (details.code, details.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "UPSTREAM_FAILED_PRECONDITION",
    )


async def test_google_429_keeps_retry_info_and_quota_failure(
    start_server: Any, emulator: Emulator
) -> None:
    """429 → RESOURCE_EXHAUSTED / UPSTREAM_RATE_LIMITED with Google's RetryInfo; not retried."""
    emulator.faults.push(Fault.rate_limited(retry_delay_s=25))
    details = await mint_error(start_server)
    assert (details.code, details.reason) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "UPSTREAM_RATE_LIMITED",
    )
    assert details.retry_delay == timedelta(seconds=25)
    assert len(emulator.requests) == 1


async def test_google_429_quota_failure_is_passed_on(start_server: Any) -> None:
    """The QuotaFailure violations Google sent reach the caller."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    handler = google_error(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded",
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaMetric": "m", "quotaId": "PerMinute"}],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.5s"},
    )
    running = await start_server(transport=httpx.MockTransport(handler))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await ts_grpc.TokenServiceStub(channel).MintToken(REQUEST)
    status = rpc_status.from_call(caught.value)
    assert status is not None
    quota = error_details_pb2.QuotaFailure()
    assert any(d.Unpack(quota) for d in status.details)
    assert [(v.subject, v.description) for v in quota.violations] == [("PerMinute", "m")]
    assert error_details(caught.value).retry_delay == timedelta(seconds=0.5)


async def test_google_402_is_resource_exhausted(start_server: Any) -> None:
    """402 (prepaid credits exhausted) → RESOURCE_EXHAUSTED / UPSTREAM_RATE_LIMITED."""
    handler = google_error(402, "RESOURCE_EXHAUSTED", "Credits exhausted")
    details = await mint_error(start_server, transport=httpx.MockTransport(handler))
    assert (details.code, details.reason) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "UPSTREAM_RATE_LIMITED",
    )


async def test_wrong_upstream_path_is_misconfiguration(
    start_server: Any, emulator: Emulator
) -> None:
    """404 (wrong base URL or version) → INTERNAL / UPSTREAM_MISCONFIGURED."""
    details = await mint_error(start_server, upstream_url=emulator.base_url + "/wrong")
    assert (details.code, details.reason) == (grpc.StatusCode.INTERNAL, "UPSTREAM_MISCONFIGURED")
    assert details.metadata["httpStatus"] == "404"


async def test_503_twice_then_success_is_retried_inside_the_server(
    start_server: Any, emulator: Emulator
) -> None:
    """500/502/503 are retried with backoff; the caller sees only the token."""
    emulator.faults.push(Fault.status(503, count=2))
    running = await start_server()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        token = await ts_grpc.TokenServiceStub(channel).MintToken(REQUEST, timeout=5)
    assert token.name in emulator.tokens
    assert [r.status for r in emulator.requests] == [503, 503, 200]


async def test_persistent_500_gives_unavailable_after_the_attempt_budget(
    start_server: Any, emulator: Emulator
) -> None:
    """After max_attempts (3) failures: UNAVAILABLE / UPSTREAM_UNAVAILABLE."""
    emulator.faults.push(Fault.status(500, count=None))
    details = await mint_error(start_server)
    assert (details.code, details.reason) == (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE")
    assert len(emulator.requests) == 3


async def test_connection_reset_is_retried(start_server: Any, emulator: Emulator) -> None:
    """A dropped connection is retried; the second attempt mints."""
    emulator.faults.push(Fault.reset())
    running = await start_server()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        token = await ts_grpc.TokenServiceStub(channel).MintToken(REQUEST, timeout=5)
    assert token.name in emulator.tokens
    assert [r.status for r in emulator.requests] == [None, 200]


async def test_malformed_answer_is_unavailable(start_server: Any, emulator: Emulator) -> None:
    """A 200 without a token name → UNAVAILABLE / UPSTREAM_UNAVAILABLE."""
    emulator.faults.push(Fault.malformed())
    details = await mint_error(start_server)
    assert (details.code, details.reason) == (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE")


async def test_unreachable_upstream_is_unavailable(start_server: Any) -> None:
    """Nothing listening → UNAVAILABLE after the attempt budget."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    details = await mint_error(start_server, upstream_url=f"http://127.0.0.1:{closed_port}")
    assert (details.code, details.reason) == (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE")


async def test_google_504_is_deadline_exceeded(start_server: Any, emulator: Emulator) -> None:
    """504 → DEADLINE_EXCEEDED / DEADLINE_EXCEEDED."""
    emulator.faults.push(Fault.status(504))
    details = await mint_error(start_server)
    assert (details.code, details.reason) == (
        grpc.StatusCode.DEADLINE_EXCEEDED,
        "DEADLINE_EXCEEDED",
    )


async def test_caller_deadline_shorter_than_google_gets_our_deadline_error(
    start_server: Any, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream timeout follows the caller's deadline: livetokens answers first."""
    # The product keeps 0.1 s of the caller's deadline to answer in; a loaded machine can
    # spend that before the answer reaches the caller, so this test keeps 1 s back.
    monkeypatch.setattr(upstream, "DEADLINE_MARGIN", 1.0)
    emulator.faults.push(Fault.latency(6.0))
    details = await mint_error(start_server, deadline_s=2.0)
    assert (details.code, details.reason) == (
        grpc.StatusCode.DEADLINE_EXCEEDED,
        "DEADLINE_EXCEEDED",
    )


async def test_retries_stop_when_the_deadline_would_pass(
    start_server: Any, emulator: Emulator
) -> None:
    """No retry is started that could not finish inside the caller's deadline."""
    emulator.faults.push(Fault.status(503, count=None))
    details = await mint_error(
        start_server, deadline_s=2.0, upstream={"backoff_initial": 10.0, "backoff_max": 10.0}
    )
    # Equal jitter waits at least 5 s here, past the 2 s deadline: no second attempt.
    assert (details.code, details.reason) == (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE")
    assert len(emulator.requests) == 1


async def test_upstream_read_timeout_is_unavailable_and_not_retried(
    start_server: Any, emulator: Emulator
) -> None:
    """Google silent past livetokens' read timeout (caller still has time) → UNAVAILABLE."""
    emulator.faults.push(Fault.latency(2.0))
    details = await mint_error(start_server, deadline_s=10, upstream={"read_timeout": 0.3})
    assert (details.code, details.reason) == (grpc.StatusCode.UNAVAILABLE, "UPSTREAM_UNAVAILABLE")
    assert len(emulator.requests) == 1


async def test_upstream_messages_are_redacted(start_server: Any) -> None:
    """Google text echoing our key or a token name reaches the caller redacted."""
    handler = google_error(
        400, "INVALID_ARGUMENT", f"bad key {API_KEY} near auth_tokens/abc123 and AIza{'x' * 35}"
    )
    details = await mint_error(start_server, transport=httpx.MockTransport(handler))
    assert "auth_tokens/abc123" not in details.message
    assert "AIza" not in details.message
    assert details.message.count("<redacted>") == 3


async def test_an_unexpected_bug_is_internal_with_a_generic_message(start_server: Any) -> None:
    """An exception no table row knows → INTERNAL / INTERNAL, its text stays in the log."""

    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError(f"secret internal detail {API_KEY}")

    details = await mint_error(start_server, transport=httpx.MockTransport(explode))
    assert (details.code, details.reason) == (grpc.StatusCode.INTERNAL, "INTERNAL")
    assert "secret internal detail" not in details.message


async def test_the_body_sent_is_json_with_the_api_key_header(start_server: Any) -> None:
    """MockTransport sees the exact request: path, header, JSON body."""
    seen: list[httpx.Request] = []

    def capture(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"name": "auth_tokens/xyz"})

    running = await start_server(transport=httpx.MockTransport(capture))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        await ts_grpc.TokenServiceStub(channel).MintToken(REQUEST)
    [request] = seen
    assert request.url.path == "/v1alpha/auth_tokens"
    assert request.headers["x-goog-api-key"] == API_KEY
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert body["bidiGenerateContentSetup"] == {"model": "models/gemini-live-2.5-flash-preview"}
    assert "fieldMask" not in body
