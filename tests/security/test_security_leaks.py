"""Secrets never leak: a canary API key and every minted token name appear in no log
record (any logger, DEBUG, text and JSON format), no audit line, no error message or
detail, no stderr, no metric and no span."""

from __future__ import annotations

import io
import logging
import pathlib
import secrets
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import generate_latest
from sec_support import StartServer, WritePolicy

from livetokens.emulator import Emulator, EmulatorConfig, Fault
from livetokens.server import RunningServer, logs
from livetokens.server.security.policy import hash_secret
from livetokens.server.settings import Secret, SecuritySettings
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

# Not shaped like a Google key, so that only livetokens' own handling can hide it.
CANARY = "canary-" + secrets.token_hex(16)
APP = "leak-test-app-secret-" + secrets.token_hex(16)
LIMITED = "leak-test-limited-secret-" + secrets.token_hex(16)
POLICY = f"""
[callers.app]
credentials = ["{hash_secret(APP)}"]
max_uses = 5
[callers.limited]
credentials = ["{hash_secret(LIMITED)}"]
rate = "1/h"
burst = 1
"""
LOGGERS = ("", "livetokens", "httpx", "httpcore", "aiohttp", "grpc", "asyncio", "hpack")


@pytest.fixture
async def canary_emulator() -> AsyncIterator[Emulator]:
    """An emulator that accepts only the canary key."""
    async with Emulator(EmulatorConfig(api_keys=frozenset({CANARY}))) as emu:
        yield emu


class Scenario:
    """Runs calls and keeps every text a secret could leak into."""

    def __init__(self, running: RunningServer) -> None:
        self.running = running
        self.tokens: list[ts.Token] = []
        self.errors: list[grpc.aio.AioRpcError] = []
        self.reasons: list[str] = []

    async def call(
        self, request: ts.TokenRequest, secret: str = APP, deadline_s: float = 10
    ) -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{self.running.port}") as channel:
            stub = ts_grpc.TokenServiceStub(channel)
            try:
                token = await stub.MintToken(
                    request,
                    timeout=deadline_s,
                    metadata=(("authorization", f"Bearer {secret}"),),
                )
            except grpc.aio.AioRpcError as error:
                self.errors.append(error)
                self.reasons.append(_reason(error))
            else:
                self.tokens.append(token)

    def error_texts(self) -> list[str]:
        texts = []
        for error in self.errors:
            texts += [str(error), error.details() or "", repr(error.debug_error_string())]
            for key, value in error.trailing_metadata() or ():
                texts.append(f"{key}={value!r}")
        return texts


def _reason(error: grpc.aio.AioRpcError) -> str:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    if status is None:
        return f"(no status: {error.code().name})"
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return "(no ErrorInfo)"


def _record_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = logging.Formatter()
    texts = []
    for record in caplog.records:
        texts.append(f"{record.name} {record.getMessage()}")
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
        if record.stack_info:
            texts.append(record.stack_info)
    return texts


async def test_the_api_key_and_token_names_never_leak(
    start_server: StartServer,
    canary_emulator: Emulator,
    write_policy: WritePolicy,
    tmp_path: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Every outcome livetokens can produce, with everything logged at DEBUG."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    json_lines = io.StringIO()
    json_handler = logging.StreamHandler(json_lines)
    json_handler.setFormatter(logs.JsonFormatter())
    logging.getLogger().addHandler(json_handler)
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    audit_path = tmp_path / "audit.jsonl"
    policy = write_policy(POLICY)
    running = await start_server(
        upstream_url=canary_emulator.base_url,
        api_key=Secret(CANARY),
        security=SecuritySettings(policy_file=policy, audit_log=audit_path),
        upstream={"read_timeout": 2.0},
        tracer_provider=tracer_provider,
    )
    full_disk = await start_server(
        upstream_url=canary_emulator.base_url,
        api_key=Secret(CANARY),
        security=SecuritySettings(policy_file=policy, audit_log=pathlib.Path("/dev/full")),
    )
    s = Scenario(running)
    faults = canary_emulator.faults

    # Successes, including an idempotent repeat and a fully configured lock.
    await s.call(ts.TokenRequest())
    configured = ts.TokenRequest(
        request_id=str(uuid.uuid4()),
        constraints=ts.LiveConstraints(
            model="gemini-live-2.5-flash-preview",
            config=lc.LiveConfig(
                response_modalities=[lc.MODALITY_AUDIO],
                system_instruction=lc.Content(parts=[lc.Part(text="be brief")]),
                tools=[lc.Tool(google_search=lc.GoogleSearch())],
            ),
        ),
        lock=ts.Lock(mode=ts.LOCK_MODE_SET_FIELDS, additional_fields=[ts.LOCKABLE_FIELD_SEED]),
    )
    await s.call(configured)
    await s.call(configured)
    # Refusals by livetokens itself.
    await s.call(ts.TokenRequest(uses=-1))
    await s.call(ts.TokenRequest(request_id=configured.request_id, uses=2))
    await s.call(ts.TokenRequest(uses=6))
    await s.call(ts.TokenRequest(), secret=LIMITED)
    await s.call(ts.TokenRequest(), secret=LIMITED)
    await s.call(ts.TokenRequest(), secret="wrong-" + secrets.token_hex(16))
    await s.call(ts.TokenRequest(), secret=CANARY)  # a caller sending the API key itself
    # Upstream failures, some of whose texts echo the key and a token name.
    echo = f"key {CANARY} rejected; see auth_tokens/{secrets.token_hex(8)}"
    faults.push(Fault.status(400, message=echo))
    faults.push(Fault.status(403, message=echo))
    faults.push(Fault.status(404))
    faults.push(Fault.rate_limited(retry_delay_s=7))
    faults.push(Fault.status(500, count=3, message=echo))
    faults.push(Fault.status(503, count=3))
    faults.push(Fault.status(504))
    faults.push(Fault.reset(count=3))
    faults.push(Fault.malformed())
    faults.push(Fault.malformed(body=f'{{"name": "{CANARY}"}}'.encode()))
    faults.push(
        Fault.malformed(
            count=3, status=502, content_type="text/html", body=f"<p>{echo}</p>".encode()
        )
    )
    for _ in range(11):
        await s.call(ts.TokenRequest())
    faults.push(Fault.latency(1.0))
    await s.call(ts.TokenRequest(), deadline_s=0.3)
    # Minted by Google, withheld because the audit record could not be written.
    await Scenario(full_disk).call(ts.TokenRequest())
    s.reasons.append("AUDIT_UNAVAILABLE")
    await Scenario(full_disk).call(ts.TokenRequest(), secret=CANARY)

    assert len(s.tokens) == 4
    assert set(s.reasons) >= {
        "INVALID_REQUEST",
        "REQUEST_ID_REUSED",
        "POLICY_DENIED",
        "RATE_LIMITED",
        "UNAUTHENTICATED",
        "UPSTREAM_REJECTED_REQUEST",
        "UPSTREAM_CREDENTIALS_REJECTED",
        "UPSTREAM_MISCONFIGURED",
        "UPSTREAM_RATE_LIMITED",
        "UPSTREAM_UNAVAILABLE",
        "DEADLINE_EXCEEDED",
        "AUDIT_UNAVAILABLE",
    }

    metrics = generate_latest(running.metrics.registry).decode()
    metrics += generate_latest(full_disk.metrics.registry).decode()
    await running.stop(1)
    await full_disk.stop(1)
    logging.getLogger().removeHandler(json_handler)
    names = {t.name for t in s.tokens} | set(canary_emulator.tokens)
    assert len(names) >= 5  # including the withheld one
    captured = capfd.readouterr()
    texts = {
        "log records": "\n".join(_record_texts(caplog)),
        "audit log": audit_path.read_text(),
        "errors": "\n".join(s.error_texts()),
        "stdout/stderr": captured.out + captured.err,
        "JSON log lines": json_lines.getvalue(),
        "metrics": metrics,
        "spans": "\n".join(span.to_json() for span in spans.get_finished_spans()),
    }
    assert len(caplog.records) > 20
    assert texts["JSON log lines"].count("\n") > 20
    assert '"fingerprint": ' in texts["JSON log lines"]
    assert "livetokens_mints_total{" in metrics
    assert texts["spans"].count('"kind": "SpanKind.SERVER"') >= 20
    assert texts["audit log"].count("\n") >= 20
    for where, text in texts.items():
        assert CANARY not in text, f"the API key leaked into {where}"
        assert APP not in text, f"a bearer secret leaked into {where}"
        for name in names:
            assert name not in text, f"a token name leaked into {where}"
