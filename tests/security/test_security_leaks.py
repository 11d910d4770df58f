"""Secrets never leak: a canary API key and every minted token name appear in no log
record (any logger, DEBUG, text and JSON format), no audit line, no error message or
detail, no stderr, no metric and no span."""

from __future__ import annotations

import base64
import io
import logging
import pathlib
import secrets
import urllib.parse
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from aiohttp import web
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import generate_latest
from sec_support import StartServer, WritePolicy

from livetokens.emulator import Emulator, EmulatorConfig, Fault
from livetokens.server import RunningServer, logs
from livetokens.server.redaction import Redactor
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


# --- a hostile upstream ----------------------------------------------------------------------

HOSTILE_KEY = "HostileCanary-" + secrets.token_hex(16)


def key_spellings(key: str) -> list[str]:
    """How a hostile upstream may spell the key (computed here, not by livetokens)."""
    raw = key.encode()
    return [
        key,
        key.upper(),
        key.lower(),
        key.swapcase(),
        urllib.parse.quote(key, safe=""),
        raw.hex(),
        raw.hex().upper(),
        base64.b64encode(raw).decode(),
        base64.b64encode(b"x" + raw).decode(),
        base64.b64encode(b"xy" + raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in key),  # full width
    ]


def leaked(text: str, key: str) -> list[str]:
    """The spellings of ``key`` (or its base64/hex cores) found in ``text``."""
    raw = key.encode()
    probes = {key.lower(), raw.hex()}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        probes.add(encoded[4:-4])
        probes.add(encoded[4:-4].replace("+", "-").replace("/", "_"))
    return [p for p in probes if p.lower() in text.lower()]


def hostile_body(status: int) -> dict[str, object]:
    """An error body with the key in every field Google's error format has."""
    every = " | ".join(key_spellings(HOSTILE_KEY))
    return {
        "error": {
            "code": status,
            "message": f"bad key {every}",
            "status": HOSTILE_KEY,
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": HOSTILE_KEY.upper(),
                    "domain": HOSTILE_KEY,
                    "metadata": {"key": HOSTILE_KEY, HOSTILE_KEY: every},
                },
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {"subject": HOSTILE_KEY, "description": every},
                        {"quotaId": f"q-{HOSTILE_KEY}", "quotaMetric": every},
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": HOSTILE_KEY},
                {"@type": "type.googleapis.com/google.rpc.Help", "links": [{"url": every}]},
            ],
        }
    }


@pytest.fixture
async def hostile_upstream() -> AsyncIterator[str]:
    """An upstream that answers every status with the key echoed everywhere it can,
    then a 200 whose token name is the key."""
    statuses = iter([400, 400, 401, 403, 404, 429, 500, 500, 500, 504, 200])

    async def answer(request: web.Request) -> web.Response:
        status = next(statuses, 200)
        if status == 200:
            body: dict[str, object] = {"name": f"auth_tokens/{HOSTILE_KEY}"}
        else:
            body = hostile_body(status)
        return web.json_response(body, status=status, headers={"x-echo": HOSTILE_KEY})

    app = web.Application()
    app.router.add_post("/{version}/auth_tokens", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_hostile_upstream_echoing_the_key_everywhere_leaks_nothing(
    start_server: StartServer,
    hostile_upstream: str,
    write_policy: WritePolicy,
    tmp_path: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Status, ErrorInfo reason/domain/metadata, QuotaFailure, RetryInfo, Help, the
    message in every case/encoding, and a token named after the key: none of it reaches
    a caller, a log record, an audit line or stderr."""
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    audit_path = tmp_path / "audit.jsonl"
    running = await start_server(
        upstream_url=hostile_upstream,
        api_key=Secret(HOSTILE_KEY),
        security=SecuritySettings(policy_file=write_policy(POLICY), audit_log=audit_path),
        upstream={"max_attempts": 1},
    )
    s = Scenario(running)
    for _ in range(11):
        await s.call(ts.TokenRequest())
    assert s.tokens == []
    assert set(s.reasons) >= {
        "UPSTREAM_REJECTED_REQUEST",
        "UPSTREAM_CREDENTIALS_REJECTED",
        "UPSTREAM_MISCONFIGURED",
        "UPSTREAM_RATE_LIMITED",
        "UPSTREAM_UNAVAILABLE",
        "DEADLINE_EXCEEDED",
    }
    await running.stop(1)
    captured = capfd.readouterr()
    texts = {
        "log records": "\n".join(_record_texts(caplog)),
        "audit log": audit_path.read_text(),
        "errors": "\n".join(s.error_texts()),
        "stdout/stderr": captured.out + captured.err,
    }
    assert "<redacted>" in texts["errors"]  # the message text got through, scrubbed
    for where, text in texts.items():
        assert leaked(text, HOSTILE_KEY) == [], f"the API key leaked into {where}"


def test_enum_like_upstream_values_are_kept_only_in_their_strict_form() -> None:
    """error.status / ErrorInfo.reason: UPPER_SNAKE names pass; anything else is dropped,
    including an upper-case key that happens to look like a name."""
    key = "ABCDEFGH_0123456789_SECRET"
    scrub = Redactor([key])
    assert scrub.enum("RESOURCE_EXHAUSTED") == "RESOURCE_EXHAUSTED"
    assert scrub.enum(key) == ""
    assert scrub.enum(f"X_{key}") == ""
    assert scrub.enum("lower case") == ""
    assert scrub.enum("A" * 65) == ""
    assert scrub.enum(7) == ""


@pytest.mark.parametrize("index", range(len(key_spellings(HOSTILE_KEY))))
def test_free_text_is_scrubbed_of_every_spelling_of_the_key(index: int) -> None:
    """Any case, percent-encoding, hex, base64 at any alignment, full-width letters."""
    spelling = key_spellings(HOSTILE_KEY)[index]
    text = Redactor([HOSTILE_KEY]).text(f"before {spelling} after")
    assert leaked(text, HOSTILE_KEY) == []
    assert text.startswith("before ")
    assert text.endswith(" after")
