"""The audit log in a container: stdout, pipes, FIFOs and ttys are flushed (not fsync'd),
a grant whose record was not made durable is followed by `withheld`, a deleted or moved
file is reopened, records are bounded in size, and one peer's refusals are throttled."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import signal
import sys
import threading
from typing import Any

import grpc
import pytest
from lt_support import child_env, port_written
from sec_support import StartServer, WritePolicy, details

from livetokens.server.errors import Failure, Reason
from livetokens.server.security import audit as audit_module
from livetokens.server.security.audit import AuditLog
from livetokens.server.security.audit_chain import verify
from livetokens.server.security.audit_records import (
    MAX_RECORD_BYTES,
    RefusalThrottle,
    refusal_record,
)
from livetokens.server.security.identity import Identity
from livetokens.server.security.policy import hash_secret
from livetokens.server.settings import LimitSettings, SecuritySettings
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

KEY = "sink-test-audit-key-0123456789abcdef"
BEARER_POLICY = f'[callers.a]\ncredentials = ["{hash_secret("sink-test-bearer-" + "0" * 32)}"]\n'


def parsed(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]


async def test_serve_with_audit_log_on_stdout_mints_and_streams_records(
    tmp_path: pathlib.Path,
) -> None:
    """`--audit-log /dev/stdout` with stdout a pipe (a container's log stream): mints
    succeed, each record arrives on stdout, and the captured stream verifies."""
    port_file = tmp_path / "port"
    env = child_env(LIVETOKENS_AUDIT_KEY=KEY)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "livetokens.server", "serve", "--listen", "127.0.0.1:0",
        "--insecure-no-auth", "--emulator", "--audit-log", "/dev/stdout",
        "--port-file", str(port_file),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with asyncio.timeout(30):
            await port_written(port_file)
            target = f"127.0.0.1:{int(port_file.read_text())}"
            async with grpc.aio.insecure_channel(target) as channel:
                token = await ts_grpc.TokenServiceStub(channel).MintToken(
                    ts.TokenRequest(), timeout=10
                )
            process.send_signal(signal.SIGTERM)
            assert process.stdout is not None
            output = await process.stdout.read()
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    records = parsed(output)
    assert [r.get("type", r.get("decision")) for r in records] == ["anchor", "allow", "stop"]
    assert records[1]["token"]["fingerprint"] == token.fingerprint
    capture = tmp_path / "captured.jsonl"
    capture.write_bytes(output)
    assert verify([capture], KEY.encode()).exit_code == 0


async def test_a_fifo_is_flushed_not_fsynced(tmp_path: pathlib.Path) -> None:
    """A named pipe: records reach the reader, and fsync (EINVAL there) is not called."""
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    received = bytearray()

    def read() -> None:
        with open(fifo, "rb") as reader:
            while chunk := reader.read(65536):
                received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    audit = AuditLog(fifo)
    audit.open()
    assert audit.is_stream
    await audit.write({"decision": "allow", "n": 1})
    await audit.aclose()
    await asyncio.to_thread(reader.join, 10)
    assert [r.get("n") for r in parsed(bytes(received))] == [None, 1, None]


async def test_a_tty_is_flushed_not_fsynced() -> None:
    """A terminal: writes succeed where fsync would fail with EINVAL."""
    master, slave = os.openpty()
    try:
        audit = AuditLog(pathlib.Path(os.ttyname(slave)))
        audit.open()
        assert audit.is_stream
        await audit.write({"decision": "deny", "n": 1})
        await audit.aclose()
        data = b""
        while b'"type":"stop"' not in data:
            data += await asyncio.to_thread(os.read, master, 65536)
    finally:
        os.close(master)
        os.close(slave)
    assert b'"n":1' in data


async def test_a_grant_whose_record_was_not_durable_is_followed_by_withheld(
    start_server: StartServer,
    write_policy: WritePolicy,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The allow line reached the file but fsync failed: the caller gets
    AUDIT_UNAVAILABLE, and once the disk works the log says the token was withheld."""
    audit_path = tmp_path / "audit.jsonl"
    running = await start_server(
        security=SecuritySettings(
            policy_file=write_policy('[callers."*"]\n'), audit_log=audit_path, insecure_no_auth=True
        )
    )
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(audit_module.os, "fsync", failing_fsync)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = ts_grpc.TokenServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.MintToken(ts.TokenRequest(), timeout=10)
        assert details(caught.value).reason == "AUDIT_UNAVAILABLE"
        monkeypatch.setattr(audit_module.os, "fsync", real_fsync)
        token = await stub.MintToken(ts.TokenRequest(), timeout=10)
    await running.stop(1)
    records = parsed(audit_path.read_bytes())
    kinds = [(r.get("reason") if r.get("type") == "anchor" else r.get("decision")) for r in records]
    allow = next(r for r in records if r.get("decision") == "allow")
    withheld = next(r for r in records if r.get("decision") == "withheld")
    assert kinds[:5] == ["start", "allow", "recovery", "withheld", "allow"]
    assert withheld["of_seq"] == allow["seq"]
    assert withheld["token"]["fingerprint"] == allow["token"]["fingerprint"]
    assert records[4]["token"]["fingerprint"] == token.fingerprint
    report = verify([audit_path], _server_key())
    assert report.exit_code == 0, report.problem


def _server_key() -> bytes:
    from livetokens.server.security.audit_chain import derive_key

    return derive_key(None, b"test-fingerprint-key")[0]


@pytest.mark.parametrize("how", ["deleted", "moved"])
async def test_a_deleted_or_moved_file_is_noticed_and_reopened(
    tmp_path: pathlib.Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Without SIGHUP: the next write sees the path's inode changed, reopens the path
    (with a reopen anchor) and warns; no record goes to the unlinked inode."""
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, fsync=False)
    audit.open()
    await audit.write({"n": 1})
    if how == "deleted":
        path.unlink()
    else:
        path.rename(tmp_path / "elsewhere.jsonl")
    with caplog.at_level(logging.WARNING):
        await audit.write({"n": 2})
    await audit.aclose()
    records = parsed(path.read_bytes())
    assert (records[0]["type"], records[0]["reason"]) == ("anchor", "reopen")
    assert records[1]["n"] == 2
    assert any("moved or deleted" in r.getMessage() for r in caplog.records)


# --- size bounds and throttling ------------------------------------------------------------


def huge_request() -> ts.TokenRequest:
    request = ts.TokenRequest(
        request_id="r" * 1_500_000,
        constraints=ts.LiveConstraints(model="m" * 1_500_000),
    )
    request.lock.additional_fields.extend([999_999] * 150_000)  # type: ignore[list-item]
    return request


def test_a_refusal_record_is_bounded_whatever_the_request() -> None:
    """1.5 MB request_id and model, 150,000 bogus enum values: a record of a few hundred
    bytes that says what was cut (length and SHA-256)."""
    record = refusal_record(
        time="t",
        identity=Identity("-", "none", "ipv4:127.0.0.1:1"),
        request=huge_request(),
        failure=Failure(Reason.UNAUTHENTICATED, "no"),
    )
    size = len(json.dumps(record, separators=(",", ":")))
    assert size <= MAX_RECORD_BYTES
    summary = record["request"]
    assert summary["request_id"]["length"] == 1_500_000
    assert len(summary["request_id"]["sha256"]) == 64
    assert summary["model"]["length"] == len("models/") + 1_500_000
    assert summary["lock_fields"]["omitted"] == 150_000 - 16
    assert summary["lock_fields"]["first"][0] == "999999"


async def test_a_huge_unauthenticated_call_writes_a_small_record(
    start_server: StartServer, write_policy: WritePolicy, tmp_path: pathlib.Path
) -> None:
    """Over the wire: the refusal of a ~3.5 MB request writes at most a few KB."""
    audit_path = tmp_path / "audit.jsonl"
    # The default --max-request-bytes (512 KiB) has gRPC refuse such a request before
    # livetokens sees it (docs/hardening.md); an operator who raises it still gets
    # bounded records.
    running = await start_server(
        security=SecuritySettings(policy_file=write_policy(BEARER_POLICY), audit_log=audit_path),
        limits=LimitSettings(max_request_bytes=8 * 1024 * 1024),
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await ts_grpc.TokenServiceStub(channel).MintToken(huge_request(), timeout=20)
    await running.stop(1)
    assert audit_path.stat().st_size < 3 * (MAX_RECORD_BYTES + 100)
    (refusal,) = [r for r in parsed(audit_path.read_bytes()) if r.get("decision") == "deny"]
    assert refusal["request"]["request_id"]["length"] == 1_500_000


def test_the_throttle_admits_a_burst_then_counts_and_summarises() -> None:
    """Per peer IP (any port): 50 at once, then 10/s; the suppressed ones come back as
    one summary when the bucket refills or after 10 s; other peers are unaffected."""
    now = [0.0]
    throttle = RefusalThrottle(rate=10, burst=50, clock=lambda: now[0])
    peer = Identity("-", "none", "ipv4:10.0.0.9:1234")
    other = Identity("-", "none", "ipv4:10.0.0.10:1")
    admitted = [throttle.admit(peer, "UNAUTHENTICATED")[0] for _ in range(200)]
    assert admitted.count(True) == 50
    assert throttle.admit(other, "INVALID_REQUEST") == (True, [])
    now[0] = 0.5  # five tokens back: the next refusal is written, after its summary
    ok, due = throttle.admit(Identity("-", "none", "ipv4:10.0.0.9:999"), "UNAUTHENTICATED")
    assert ok
    assert due == [
        {
            "decision": "suppressed",
            "peer": "10.0.0.9",
            "count": 150,
            "seconds": 0.5,
            "reasons": {"UNAUTHENTICATED": 150},
        }
    ]


def test_authenticated_callers_behind_one_proxy_are_throttled_apart() -> None:
    """Refusals of known callers count per caller, not per (shared sidecar) address."""
    throttle = RefusalThrottle(rate=1, burst=2, clock=lambda: 0.0)
    for caller in ("bearer:a", "bearer:b"):
        identity = Identity(caller, "proxy", "ipv4:127.0.0.1:1")
        assert [throttle.admit(identity, "POLICY_DENIED")[0] for _ in range(3)] == [
            True,
            True,
            False,
        ]
    summaries = throttle.due(everything=True)
    assert [(s["caller"], s["count"]) for s in summaries] == [("bearer:a", 1), ("bearer:b", 1)]


async def test_a_flood_of_refusals_from_one_peer_is_summarised_in_the_log(
    start_server: StartServer, write_policy: WritePolicy, tmp_path: pathlib.Path
) -> None:
    """120 unauthenticated calls from one peer: about 50 records and a summary that
    accounts for every other one."""
    audit_path = tmp_path / "audit.jsonl"
    running = await start_server(
        security=SecuritySettings(policy_file=write_policy(BEARER_POLICY), audit_log=audit_path)
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        stub = ts_grpc.TokenServiceStub(channel)

        async def refused() -> None:
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.MintToken(ts.TokenRequest(), timeout=10)

        # All at once: one by one, a loaded machine took over 7 s, long enough for the
        # 10/s refill to let every refusal through.
        await asyncio.gather(*(refused() for _ in range(120)))
    await running.stop(1)
    records = parsed(audit_path.read_bytes())
    denied = [r for r in records if r.get("decision") == "deny"]
    summaries = [r for r in records if r.get("decision") == "suppressed"]
    assert 50 <= len(denied) < 120
    assert len(denied) + sum(s["count"] for s in summaries) == 120
    assert all(s["peer"] == "127.0.0.1" for s in summaries)


async def test_a_decode_refusal_with_an_empty_request_is_recorded_right(
    tmp_path: pathlib.Path,
) -> None:
    """The hardening decoder refuses bytes with an empty TokenRequest: the record has
    the reason and peer, and every request field null (nothing was read)."""
    from livetokens.server.fingerprint import Fingerprinter
    from livetokens.server.idempotency import IdempotencyCache
    from livetokens.server.minting import Minter

    audit = AuditLog(tmp_path / "audit.jsonl", fsync=False)
    audit.open()
    minter = Minter(
        None,  # type: ignore[arg-type] - never called for a refusal
        base_url="http://127.0.0.1:9",
        api_version="v1alpha",
        fingerprinter=Fingerprinter(b"k"),
        idempotency=IdempotencyCache(10),
        audit=audit,
    )
    reason = (
        Reason("REQUEST_UNDECODABLE")
        if "REQUEST_UNDECODABLE" in Reason.__members__
        else Reason.INVALID_REQUEST
    )
    identity = Identity("-", "none", "ipv4:127.0.0.1:5")
    await minter.record_refusal(ts.TokenRequest(), identity, Failure(reason, "bytes"))
    await audit.aclose()
    (record,) = [r for r in parsed((tmp_path / "audit.jsonl").read_bytes()) if "decision" in r]
    assert (record["decision"], record["reason"], record["peer"]) == (
        "deny",
        reason.value,
        "ipv4:127.0.0.1:5",
    )
    assert record["request"] == {
        "request_id": None, "model": None, "uses": None, "lifetime_s": None,
        "new_session_window_s": None, "lock_mode": "LOCK_MODE_UNSPECIFIED", "lock_fields": [],
    }  # fmt: skip


async def test_undecodable_and_oversized_bytes_leave_audit_records(
    start_server: StartServer, tmp_path: pathlib.Path
) -> None:
    """Over the wire: bytes that are not a TokenRequest, and bytes over
    --max-request-bytes, each get a `deny` record with the peer and a null request."""
    audit_path = tmp_path / "audit.jsonl"
    running = await start_server(
        security=SecuritySettings(audit_log=audit_path, insecure_no_auth=True),
        limits=LimitSettings(max_request_bytes=1024),
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        raw = channel.unary_unary("/livetokens.v1.TokenService/MintToken")
        for payload in (b"\xff\xff\xff\xff garbage", b"\x0a" + b"\x80" * 1500):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await raw(payload, timeout=10)
            assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    await running.stop(1)
    denied = [r for r in parsed(audit_path.read_bytes()) if r.get("decision") == "deny"]
    assert [r["reason"] for r in denied] == ["REQUEST_UNDECODABLE", "REQUEST_TOO_LARGE"]
    for record in denied:
        assert record["peer"].startswith("ipv4:127.0.0.1:")
        assert record["request"]["request_id"] is None
