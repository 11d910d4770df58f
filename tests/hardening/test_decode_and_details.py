"""Bad bytes and bad values end in the error table, with details that fit in trailers."""

from __future__ import annotations

import logging
import pathlib

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from harden_support import deep_request, length_delimited, raw_call
from lt_support import seed_request

from livetokens.server import RunningServer
from livetokens.server.errors import (
    MAX_VIOLATIONS,
    Failure,
    FieldViolation,
    QuotaViolation,
    Reason,
    clip,
    to_status_proto,
)
from livetokens.server.settings import SecuritySettings
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

OK = grpc.StatusCode.OK
INVALID = grpc.StatusCode.INVALID_ARGUMENT
# gRPC drops trailers above this at random (its soft limit), with the ErrorInfo.
TRAILER_SOFT_LIMIT = 8 * 1024

UNDECODABLE = {
    "garbage": b"\xff\xff\xff\xff\xff",
    "truncated": length_delimited(6, b"abc")[:-1],
    "invalid UTF-8 in request_id": length_delimited(6, b"\xc3\x28"),
    "nested past protobuf's limit": deep_request(60),
}


@pytest.mark.parametrize("payload", UNDECODABLE.values(), ids=UNDECODABLE.keys())
async def test_undecodable_bytes_get_invalid_argument_with_a_reason_of_their_own(
    channel: grpc.aio.Channel, payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Bytes that are not a TokenRequest: INVALID_ARGUMENT / REQUEST_UNDECODABLE, one INFO
    line and no traceback (not grpc's UNKNOWN)."""
    caplog.set_level(logging.INFO)
    result = await raw_call(channel, payload)
    assert (result.code, result.reason) == (INVALID, "REQUEST_UNDECODABLE")
    assert result.fields == ("(request)",)
    assert result.metadata["requestBytes"] == str(len(payload))
    assert any("reason=REQUEST_UNDECODABLE" in r.getMessage() for r in caplog.records)
    assert all(r.levelno < logging.ERROR and r.exc_info is None for r in caplog.records)


async def test_an_undecodable_request_is_audited(
    start_server: object, tmp_path: pathlib.Path
) -> None:
    """A refusal record with reason REQUEST_UNDECODABLE is written for undecodable bytes."""
    running: RunningServer = await start_server(  # type: ignore[operator]
        security=SecuritySettings(insecure_no_auth=True, audit_log=tmp_path / "audit.jsonl")
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        result = await raw_call(channel, UNDECODABLE["garbage"])
    assert result.reason == "REQUEST_UNDECODABLE"
    text = (tmp_path / "audit.jsonl").read_text()
    assert '"reason":"REQUEST_UNDECODABLE"' in text.replace(" ", "")


async def test_health_and_reflection_still_work(channel: grpc.aio.Channel) -> None:
    """With MintToken registered for raw bytes, health and reflection still answer."""
    health = health_pb2_grpc.HealthStub(channel)
    answer = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for response in reflection.ServerReflectionInfo(iter([request]), timeout=5):
        names = {s.name for s in response.list_services_response.service}
        assert "livetokens.v1.TokenService" in names
        break
    else:
        pytest.fail("reflection sent no answer")


HUGE = [9223372036854775807, -9223372036854775808, 86400000000000, 315576000001]


@pytest.mark.parametrize("seconds", HUGE)
@pytest.mark.parametrize("field", ["lifetime", "new_session_window"])
async def test_durations_out_of_any_range_are_field_violations(
    start_server: object, tmp_path: pathlib.Path, field: str, seconds: int
) -> None:
    """Seconds beyond timedelta's range: INVALID_REQUEST naming the field, audited, not
    INTERNAL."""
    running: RunningServer = await start_server(  # type: ignore[operator]
        security=SecuritySettings(insecure_no_auth=True, audit_log=tmp_path / "audit.jsonl")
    )
    request = ts.TokenRequest()
    getattr(request, field).seconds = seconds
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        result = await raw_call(channel, request.SerializeToString())
    assert (result.code, result.reason) == (INVALID, "INVALID_REQUEST")
    assert field in result.fields


async def test_unknown_enum_values_are_field_violations(channel: grpc.aio.Channel) -> None:
    """Enum numbers this server does not know, anywhere, name their field."""
    request = seed_request(lock=ts.Lock(mode=99, additional_fields=[77]))  # type: ignore[arg-type]
    request.constraints.config.media_resolution = 1234  # type: ignore[assignment]
    request.constraints.config.response_modalities.append(55)  # type: ignore[arg-type]
    result = await raw_call(channel, request.SerializeToString())
    assert (result.code, result.reason) == (INVALID, "INVALID_REQUEST")
    assert set(result.fields) >= {
        "lock.mode",
        "lock.additional_fields[0]",
        "constraints.config.media_resolution",
        "constraints.config.response_modalities[1]",
    }


def fifty_bad_names() -> ts.TokenRequest:
    """The issue's 448-byte request: 50 function declarations named ``1bad``."""
    request = seed_request()
    tool = request.constraints.config.tools.add()
    for _ in range(50):
        tool.function_declarations.add(name="1bad")
    return request


def long_keys() -> ts.TokenRequest:
    """Within the budget, with 256 violations whose paths hold 256-character keys."""
    request = seed_request()
    params = request.constraints.config.tools.add().function_declarations.add(name="f")
    params.parameters.type = lc.SCHEMA_TYPE_OBJECT
    for i in range(256):
        params.parameters.properties[f"{i:03d}" + "é" * 253].description = "no type"
    return request


def long_language_code(length: int) -> ts.TokenRequest:
    """A ``length``-character translation target: an invalid code echoed back."""
    request = seed_request()
    request.constraints.config.translation_config.target_language_code = "€" * length
    return request


CASES = {
    "50 x 1bad": (fifty_bad_names(), "INVALID_REQUEST"),
    "256 long keys": (long_keys(), "INVALID_REQUEST"),
    "1000-char language code": (long_language_code(1000), "INVALID_REQUEST"),
    "8 KB language code": (long_language_code(8192), "REQUEST_TOO_LARGE"),
}


@pytest.mark.parametrize(("request_", "reason"), CASES.values(), ids=CASES.keys())
async def test_large_error_details_always_arrive_complete(
    channel: grpc.aio.Channel, request_: ts.TokenRequest, reason: str
) -> None:
    """Requests with many or long violations get INVALID_ARGUMENT with ErrorInfo on every
    one of 25 calls (gRPC used to drop the trailers of most of them)."""
    payload = request_.SerializeToString()
    for _ in range(25):
        result = await raw_call(channel, payload)
        assert (result.code, result.reason) == (INVALID, reason), result.message
        assert 0 < len(result.fields) <= MAX_VIOLATIONS
        assert result.trailer_bytes < TRAILER_SOFT_LIMIT // 2


async def test_the_omitted_violations_are_counted(channel: grpc.aio.Channel) -> None:
    """When violations are left out, the message and ErrorInfo say how many."""
    result = await raw_call(channel, long_keys().SerializeToString())
    total = int(result.metadata["fieldViolations"])
    omitted = int(result.metadata["fieldViolationsOmitted"])
    assert total == 256
    assert omitted == total - len(result.fields)
    assert f"{omitted} more violation(s) not shown" in result.message


def test_any_failure_becomes_a_status_that_fits_in_trailers() -> None:
    """10,000 violations of 10 KB multi-byte texts, a huge message and metadata: the
    status stays a few KB."""
    text = "ü€😀" * 2500
    failure = Failure(
        Reason.INVALID_REQUEST,
        text,
        field_violations=[FieldViolation(text, text)] * 10_000,
        quota_violations=[QuotaViolation(text, text)] * 10_000,
        metadata={f"k{i}{text}": text for i in range(100)},
    )
    status = to_status_proto(failure)
    assert len(status.SerializeToString()) < 4096
    assert len(status.message.encode()) < 800


def test_clip_cuts_at_a_character_boundary() -> None:
    """clip keeps whole UTF-8 characters and marks the cut."""
    assert clip("short") == "short"
    cut = clip("€" * 100, 20)
    assert cut.endswith("…")
    assert len(cut.encode()) <= 20
    assert set(cut[:-1]) == {"€"}
