"""The Python client: the four-language contract scenario, its README example, retries.

The scenario runs against a real livetokens server (with the emulator upstream and a
deliberately slow model), the same one the Go, TypeScript and Java suites run through
tools/with_livetokens.py.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from lt_support import API_KEY, MODEL, seed_request, server_settings

from livetokens.client import (
    AsyncClient,
    Client,
    error_details,
    expire_time,
    new_session_expire_time,
    parse_reason,
    reason_name,
)
from livetokens.emulator import Emulator, EmulatorConfig
from livetokens.server import RunningServer, create_server
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

ROOT = pathlib.Path(__file__).resolve().parents[2]
SLOW_MODEL = "slow-model"


@pytest.fixture
async def live_target() -> AsyncIterator[str]:
    """A livetokens server whose emulator delays SLOW_MODEL by 3 s; yields HOST:PORT."""
    config = EmulatorConfig(api_keys=frozenset({API_KEY}), model_latency={SLOW_MODEL: 3.0})
    async with Emulator(config) as emulator:
        running: RunningServer = await create_server(server_settings(emulator.base_url))
        try:
            yield f"127.0.0.1:{running.port}"
        finally:
            await running.stop(0)


def near(stamp: Any, expected: datetime) -> bool:
    return abs(stamp.ToDatetime(tzinfo=UTC) - expected) < timedelta(minutes=2)


async def test_contract_scenario_async(live_target: str) -> None:
    """The shared scenario with AsyncClient: mint, invalid field, deadline, idempotency."""
    async with AsyncClient(live_target, plaintext=True) as client:
        token = await client.mint_token(seed_request())
        now = datetime.now(UTC)
        assert token.name.startswith("auth_tokens/")
        assert near(token.expire_time, now + timedelta(minutes=30))
        assert near(token.new_session_expire_time, now + timedelta(minutes=1))
        assert token.uses == 1
        assert token.lock.whole_setup
        assert list(token.lock.field_paths) == []
        assert token.model == f"models/{MODEL}"
        assert token.fingerprint.startswith("hmac-sha256:")
        assert token.websocket_url.endswith("BidiGenerateContentConstrained")
        assert token.api_version == "v1alpha"

        lock = ts.Lock(
            mode=ts.LOCK_MODE_SET_FIELDS,
            additional_fields=[ts.LOCKABLE_FIELD_OUTPUT_AUDIO_TRANSCRIPTION],
        )
        locked = await client.mint_token(seed_request(lock=lock))
        assert not locked.lock.whole_setup
        assert list(locked.lock.field_paths) == [
            "model",
            "generationConfig.responseModalities",
            "generationConfig.temperature",
            "sessionResumption",
            "outputAudioTranscription",
        ]

        bad = seed_request()
        bad.constraints.config.temperature = 5.0
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.mint_token(bad)
        details = error_details(caught.value)
        assert details.code == grpc.StatusCode.INVALID_ARGUMENT
        assert (details.reason, details.domain) == ("INVALID_REQUEST", "livetokens.v1.TokenService")
        assert [v.field for v in details.field_violations] == ["constraints.config.temperature"]

        slow = ts.TokenRequest(constraints=ts.LiveConstraints(model=SLOW_MODEL))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.mint_token(slow, timeout=0.5)
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

        request = seed_request(request_id=str(uuid.uuid4()))
        first = await client.mint_token(request)
        second = await client.mint_token(request)
        assert (first.name, first.fingerprint) == (second.name, second.fingerprint)


async def test_contract_scenario_sync(live_target: str) -> None:
    """The blocking Client gets the same answers (run in a thread beside the server)."""

    def scenario() -> None:
        with Client(live_target, plaintext=True) as client:
            assert client.mint_token(seed_request()).name.startswith("auth_tokens/")
            request = seed_request(request_id=str(uuid.uuid4()))
            assert client.mint_token(request).name == client.mint_token(request).name
            with pytest.raises(grpc.RpcError) as caught:
                client.mint_token(
                    ts.TokenRequest(constraints=ts.LiveConstraints(model=SLOW_MODEL)), timeout=0.5
                )
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]

    await asyncio.to_thread(scenario)


async def test_readme_example_is_the_code_that_runs(live_target: str) -> None:
    """clients/python/README.md shows examples/mint.py verbatim; it mints, then decodes uses=-1."""
    example = (ROOT / "clients/python/examples/mint.py").read_text()
    readme = (ROOT / "clients/python/README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert example in blocks
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(ROOT / "clients/python/examples/mint.py")],
        env={**os.environ, "LIVETOKENS_TARGET": live_target},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"name: auth_tokens/\.\.\.\(redacted\)\n"
        r"expires: \d{4}-\d\d-\d\dT[0-9:.]+\+00:00\n"
        r"fingerprint: hmac-sha256:[0-9a-f]{32}\n"
        r"rejected: INVALID_ARGUMENT INVALID_REQUEST\n"
        r"violation: uses: must be 0 or more, got -1\n",
        result.stdout,
    ), result.stdout


# --- pytest-grpc: the sync client against a scripted sync servicer ---------------------
# pytest-grpc's real-server mode fits here: a plain sync servicer, module-scoped. It
# binds `grpc_addr`, which we point at a Unix socket so nothing listens on TCP.


class ScriptedTokenService(ts_grpc.TokenServiceServicer):
    """Answers from a script of (code, details) and records every request it saw."""

    def __init__(self) -> None:
        self.script: list[status_pb2.Status | None] = []
        self.seen: list[ts.TokenRequest] = []

    def MintToken(self, request: ts.TokenRequest, context: grpc.ServicerContext) -> ts.Token:
        self.seen.append(request)
        status = self.script.pop(0) if self.script else None
        if status is not None:
            context.abort_with_status(rpc_status.to_status(status))
        return ts.Token(name="auth_tokens/scripted", uses=1)


def _packed(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


@pytest.fixture(scope="module")
def grpc_addr(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"unix:{tmp_path_factory.mktemp('grpc') / 'scripted.sock'}"


@pytest.fixture(scope="module")
def grpc_add_to_server() -> Any:
    return ts_grpc.add_TokenServiceServicer_to_server


@pytest.fixture(scope="module")
def grpc_servicer() -> ScriptedTokenService:
    return ScriptedTokenService()


@pytest.fixture(scope="module")
def grpc_stub_cls() -> Any:
    return ts_grpc.TokenServiceStub


@pytest.fixture
def scripted(
    grpc_servicer: ScriptedTokenService, grpc_server: Any
) -> Iterator[ScriptedTokenService]:
    grpc_servicer.script.clear()
    grpc_servicer.seen.clear()
    return grpc_servicer


def test_client_retries_unavailable_with_the_same_request_id(
    scripted: ScriptedTokenService, grpc_addr: str
) -> None:
    """UNAVAILABLE twice, then OK: the service config retries, one request_id throughout."""
    unavailable = status_pb2.Status(code=code_pb2.UNAVAILABLE, message="try again")
    scripted.script[:] = [unavailable, unavailable]
    with Client(grpc_addr, plaintext=True) as client:
        token = client.mint_token(ts.TokenRequest(), timeout=10)
    assert token.name == "auth_tokens/scripted"
    ids = [r.request_id for r in scripted.seen]
    assert len(ids) == 3
    assert len(set(ids)) == 1
    assert uuid.UUID(ids[0]).version == 4


def test_client_stops_after_three_attempts(scripted: ScriptedTokenService, grpc_addr: str) -> None:
    """At most 3 attempts, then the UNAVAILABLE reaches the caller."""
    unavailable = status_pb2.Status(code=code_pb2.UNAVAILABLE, message="down")
    scripted.script[:] = [unavailable] * 5
    with Client(grpc_addr, plaintext=True) as client, pytest.raises(grpc.RpcError) as caught:
        client.mint_token(ts.TokenRequest(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert len(scripted.seen) == 3


def test_client_does_not_retry_other_codes_and_decodes_details(
    scripted: ScriptedTokenService, grpc_addr: str
) -> None:
    """INVALID_ARGUMENT is not retried; ErrorInfo, BadRequest and RetryInfo are decoded."""
    delay = error_details_pb2.RetryInfo()
    delay.retry_delay.FromTimedelta(timedelta(seconds=3))
    scripted.script[:] = [
        status_pb2.Status(
            code=code_pb2.INVALID_ARGUMENT,
            message="bad",
            details=[
                _packed(
                    error_details_pb2.ErrorInfo(
                        reason="INVALID_REQUEST", domain="d", metadata={"k": "v"}
                    )
                ),
                _packed(
                    error_details_pb2.BadRequest(
                        field_violations=[
                            error_details_pb2.BadRequest.FieldViolation(
                                field="uses", description="neg", reason="NEGATIVE"
                            )
                        ]
                    )
                ),
                _packed(delay),
            ],
        )
    ]
    with Client(grpc_addr, plaintext=True) as client, pytest.raises(grpc.RpcError) as caught:
        client.mint_token(ts.TokenRequest(request_id="6f1c8a52-4a8e-4d0b-9a55-0b0c3a8f4f1e"))
    details = error_details(caught.value)
    assert details.code == grpc.StatusCode.INVALID_ARGUMENT
    assert (details.reason, details.domain, details.metadata) == (
        "INVALID_REQUEST",
        "d",
        {"k": "v"},
    )
    assert [(v.field, v.description, v.reason) for v in details.field_violations] == [
        ("uses", "neg", "NEGATIVE")
    ]
    assert details.error_reason == ts.ERROR_REASON_INVALID_REQUEST
    assert details.retry_delay == timedelta(seconds=3)
    assert [r.request_id for r in scripted.seen] == ["6f1c8a52-4a8e-4d0b-9a55-0b0c3a8f4f1e"]


def test_reason_helpers_convert_every_error_reason() -> None:
    """reason_name drops ERROR_REASON_ and parse_reason adds it back; unknown is UNSPECIFIED."""
    for name, value in ts.ErrorReason.items():
        if value == ts.ERROR_REASON_UNSPECIFIED:
            continue
        assert reason_name(value) == name.removeprefix("ERROR_REASON_")
        assert parse_reason(reason_name(value)) == value
    assert reason_name(ts.ERROR_REASON_UNSPECIFIED) == ""
    assert parse_reason("") == parse_reason("NOT_A_REASON") == ts.ERROR_REASON_UNSPECIFIED
    assert parse_reason("ERROR_REASON_INVALID_REQUEST") == ts.ERROR_REASON_UNSPECIFIED


def test_expire_time_helpers_return_aware_utc_datetimes() -> None:
    """expire_time and new_session_expire_time give the token's times as UTC datetimes."""
    when = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    token = ts.Token(expire_time=when, new_session_expire_time=when - timedelta(minutes=1))
    assert expire_time(token) == when
    assert expire_time(token).tzinfo is not None
    assert new_session_expire_time(token) == when - timedelta(minutes=1)
