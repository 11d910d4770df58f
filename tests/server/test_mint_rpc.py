"""MintToken end to end: a real grpc.aio server, the emulator over real HTTP."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from lt_support import MODEL, seed_request

from livetokens.client import error_details
from livetokens.emulator import Emulator
from livetokens.server import RunningServer
from livetokens.server.fingerprint import Fingerprinter
from livetokens.server.translate import rfc3339
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc


async def test_seed_request_mints_a_fully_locked_token(
    stub: ts_grpc.TokenServiceStub, emulator: Emulator
) -> None:
    """The seed's constraints mint a token with defaults, a full lock and the right URL."""
    before = datetime.now(UTC)
    token = await stub.MintToken(seed_request(), timeout=5)
    after = datetime.now(UTC)

    assert token.name.startswith("auth_tokens/")
    assert token.name in emulator.tokens
    expire = token.expire_time.ToDatetime(tzinfo=UTC)
    new_session = token.new_session_expire_time.ToDatetime(tzinfo=UTC)
    slack = timedelta(milliseconds=1)
    assert before + timedelta(minutes=30) - slack <= expire <= after + timedelta(minutes=30)
    assert before + timedelta(minutes=1) - slack <= new_session <= after + timedelta(minutes=1)
    assert token.uses == 1
    assert token.lock.whole_setup
    assert list(token.lock.field_paths) == []
    assert token.model == f"models/{MODEL}"
    assert token.api_version == "v1alpha"
    assert token.websocket_url == emulator.base_url.replace("http://", "ws://") + (
        "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
    )
    assert token.fingerprint == Fingerprinter(b"test-fingerprint-key")(token.name)


async def test_the_exact_body_reaches_google_with_the_key_header(
    stub: ts_grpc.TokenServiceStub, emulator: Emulator
) -> None:
    """The emulator receives the flat AuthToken body, camelCase, with x-goog-api-key."""
    token = await stub.MintToken(seed_request(lock=ts.Lock(mode=ts.LOCK_MODE_SET_FIELDS)))
    [request] = emulator.requests
    assert (request.method, request.path) == ("POST", "/v1alpha/auth_tokens")
    assert request.headers["x-goog-api-key"] == "<redacted>"
    assert request.api_key_fingerprint is not None
    body = request.body_json
    assert body["uses"] == 1
    assert body["expireTime"] == rfc3339(token.expire_time.ToDatetime(tzinfo=UTC))
    assert body["newSessionExpireTime"] == rfc3339(
        token.new_session_expire_time.ToDatetime(tzinfo=UTC)
    )
    assert body["bidiGenerateContentSetup"] == {
        "model": f"models/{MODEL}",
        "generationConfig": {"responseModalities": ["AUDIO"], "temperature": 0.7},
        "sessionResumption": {},
    }
    assert body["fieldMask"] == (
        "model,generationConfig.responseModalities,generationConfig.temperature,sessionResumption"
    )
    assert list(token.lock.field_paths) == body["fieldMask"].split(",")
    stored = emulator.tokens[token.name]
    assert stored.expire_time == token.expire_time.ToDatetime(tzinfo=UTC)


async def test_v1beta_server_mints_on_v1beta(start_server: object, emulator: Emulator) -> None:
    """The API version setting picks the route and the WebSocket URL."""
    running: RunningServer = await start_server(upstream={"api_version": "v1beta"})  # type: ignore[operator]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        token = await ts_grpc.TokenServiceStub(channel).MintToken(ts.TokenRequest())
    assert emulator.requests[-1].path == "/v1beta/auth_tokens"
    assert token.api_version == "v1beta"
    assert ".v1beta.GenerativeService." in token.websocket_url


async def test_invalid_request_lists_every_field_and_never_calls_google(
    stub: ts_grpc.TokenServiceStub, emulator: Emulator
) -> None:
    """INVALID_ARGUMENT / INVALID_REQUEST with a BadRequest naming each field."""
    request = seed_request(uses=-1)
    request.constraints.config.temperature = 5.0
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.MintToken(request)
    details = error_details(caught.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert (details.reason, details.domain) == ("INVALID_REQUEST", "livetokens.v1.TokenService")
    assert [v.field for v in details.field_violations] == ["uses", "constraints.config.temperature"]
    assert emulator.requests == []


async def test_retry_with_the_same_request_id_returns_the_same_token(
    stub: ts_grpc.TokenServiceStub, emulator: Emulator
) -> None:
    """A repeated request_id within the window mints once and answers twice."""
    request = seed_request(request_id=str(uuid.uuid4()))
    first = await stub.MintToken(request)
    second = await stub.MintToken(request)
    assert first == second
    assert len(emulator.requests) == 1


async def test_concurrent_twins_share_one_upstream_call(
    stub: ts_grpc.TokenServiceStub, emulator: Emulator
) -> None:
    """Two in-flight calls with one request_id wait for the same mint."""
    from livetokens.emulator import Fault

    emulator.faults.push(Fault.latency(0.3))
    request = seed_request(request_id=str(uuid.uuid4()))
    first, second = await asyncio.gather(stub.MintToken(request), stub.MintToken(request))
    assert first.name == second.name
    assert len(emulator.requests) == 1


async def test_same_request_id_with_a_different_request_is_refused(
    stub: ts_grpc.TokenServiceStub, emulator: Emulator
) -> None:
    """FAILED_PRECONDITION / REQUEST_ID_REUSED, naming request_id; no second mint."""
    request_id = str(uuid.uuid4())
    await stub.MintToken(seed_request(request_id=request_id))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.MintToken(seed_request(request_id=request_id, uses=2))
    details = error_details(caught.value)
    assert details.code == grpc.StatusCode.FAILED_PRECONDITION
    assert details.reason == "REQUEST_ID_REUSED"
    assert [v.field for v in details.field_violations] == ["request_id"]
    assert len(emulator.requests) == 1


async def test_a_failed_mint_is_not_remembered(
    stub: ts_grpc.TokenServiceStub, emulator: Emulator
) -> None:
    """After an upstream failure, a retry with the same request_id mints afresh."""
    from livetokens.emulator import Fault

    emulator.faults.push(Fault.status(400))
    request = seed_request(request_id=str(uuid.uuid4()))
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.MintToken(request)
    token = await stub.MintToken(request)
    assert token.name in emulator.tokens


async def test_health_reports_serving_then_not_serving_on_drain(
    server: RunningServer, channel: grpc.aio.Channel
) -> None:
    """grpc.health.v1: SERVING for the service and the server; NOT_SERVING once draining."""
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "livetokens.v1.TokenService"):
        answer = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    await server.health.enter_graceful_shutdown()
    answer = await health.Check(health_pb2.HealthCheckRequest(service="livetokens.v1.TokenService"))
    assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_reflection_lists_the_service(channel: grpc.aio.Channel) -> None:
    """Server reflection is on, so grpcurl and buf curl work without the proto."""
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    async def one_request() -> object:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    names = []
    async for answer in stub.ServerReflectionInfo(one_request()):
        names = [s.name for s in answer.list_services_response.service]
    assert "livetokens.v1.TokenService" in names
    assert "grpc.health.v1.Health" in names


async def test_drain_lets_an_in_flight_mint_finish(
    server: RunningServer, stub: ts_grpc.TokenServiceStub, emulator: Emulator
) -> None:
    """stop(grace) waits for the mint in flight; it completes with a token."""
    from livetokens.emulator import Fault

    emulator.faults.push(Fault.latency(0.5))
    call = asyncio.ensure_future(stub.MintToken(seed_request(), timeout=10))
    while not emulator.requests:  # noqa: ASYNC110 - polls the emulator; bounded by the test timeout
        await asyncio.sleep(0.01)
    await server.stop(grace=5)
    token = await call
    assert token.name in emulator.tokens
