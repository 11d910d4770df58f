"""JSON log lines carry the call's trace id, request_id, caller, reason and fingerprint."""

from __future__ import annotations

import io
import json
import logging
import secrets
import uuid
from collections.abc import Iterator

import grpc
import pytest
from lt_support import seed_request
from obs_support import StartServer

from livetokens.server import logs
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Everything logged at INFO and above, as JSON lines, while the test runs."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_json_lines_carry_the_call_fields(
    start_server: StartServer, json_lines: io.StringIO
) -> None:
    """The mint's line has trace_id, request_id, caller and fingerprint; a refusal's, reason."""
    running = await start_server()
    trace_id = secrets.token_hex(16)
    request_id = str(uuid.uuid4())
    metadata = (("traceparent", f"00-{trace_id}-{secrets.token_hex(8)}-01"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = ts_grpc.TokenServiceStub(channel)
        token = await stub.MintToken(
            seed_request(request_id=request_id), timeout=10, metadata=metadata
        )
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.MintToken(ts.TokenRequest(uses=-1), timeout=10)
    entries = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(e) for e in entries)
    minted = next(e for e in entries if e["message"].startswith("minted token"))
    assert minted["trace_id"] == trace_id
    assert minted["request_id"] == request_id
    assert minted["caller"] == "anonymous"
    assert minted["fingerprint"] == token.fingerprint
    assert minted["level"] == "INFO"
    assert minted["logger"] == "livetokens.server.minting"
    refused = next(e for e in entries if e["message"].startswith("mint refused"))
    assert refused["reason"] == "INVALID_REQUEST"
    assert "trace_id" not in refused
    assert "fingerprint" not in refused
    assert token.name not in json_lines.getvalue()


def test_outside_a_call_a_json_line_has_only_the_basics() -> None:
    """No call bound: time, level, logger, message (and an exception when there is one)."""
    formatter = logs.JsonFormatter()
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), None)
        import sys

        record.exc_info = sys.exc_info()
    entry = json.loads(formatter.format(record))
    assert set(entry) == {"time", "level", "logger", "message", "exception"}
    assert entry["message"] == "failed here"
    assert "ValueError: boom" in entry["exception"]


@pytest.mark.parametrize(
    ("header", "trace_id"),
    [
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ),
        ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", ""),
        ("garbage", ""),
        ("00-zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz-00f067aa0ba902b7-01", ""),
    ],
)
def test_trace_id_from_traceparent(header: str, trace_id: str) -> None:
    """Only a well-formed, non-zero W3C trace id is logged."""
    assert logs.trace_id_from_traceparent(header) == trace_id
