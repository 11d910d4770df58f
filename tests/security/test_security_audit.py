"""The audit log: a record for every outcome, in order, written before the token leaves,
and fail closed when it cannot be written."""

from __future__ import annotations

import asyncio
import io
import json
import pathlib
import uuid
from datetime import UTC
from typing import Any

import grpc
import pytest
from sec_support import StartServer, WritePolicy, details

from livetokens.emulator import Emulator, Fault
from livetokens.server import RunningServer
from livetokens.server.security.audit import AuditLog, AuditUnavailable
from livetokens.server.security.policy import hash_secret
from livetokens.server.settings import SecuritySettings, SettingsError
from livetokens.server.translate import rfc3339
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

APP = "app-secret-0123456789abcdef0123456789abcdef"
LIMITED = "limited-secret-0123456789abcdef0123456789ab"

POLICY = f"""
[callers.app]
credentials = ["{hash_secret(APP)}"]
max_uses = 5

[callers.limited]
credentials = ["{hash_secret(LIMITED)}"]
rate = "1/h"
burst = 1
"""


def records(path: pathlib.Path) -> list[dict[str, Any]]:
    """Every decision record in the audit file (not anchors, stop or reload records),
    without its MAC, asserting one JSON object per line."""
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [
        {k: v for k, v in r.items() if k not in ("mac", "chain")} for r in lines if "type" not in r
    ]


# --- the log itself ------------------------------------------------------------------------


async def test_records_are_appended_in_submission_order(tmp_path: pathlib.Path) -> None:
    """Concurrent writers: the file holds seq 1..n in order, one JSON object per line."""
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.open()
    try:
        await asyncio.gather(*(audit.write({"n": i}) for i in range(200)))
    finally:
        await audit.aclose()
    lines = records(tmp_path / "audit.jsonl")
    assert [r["seq"] for r in lines] == list(range(1, 201))
    assert sorted(r["n"] for r in lines) == list(range(200))


async def test_a_new_file_is_private(tmp_path: pathlib.Path) -> None:
    """The audit file is created with mode 0600."""
    audit = AuditLog(tmp_path / "audit.jsonl")
    audit.open()
    await audit.aclose()
    assert (tmp_path / "audit.jsonl").stat().st_mode & 0o777 == 0o600


async def test_an_existing_file_is_appended_to(tmp_path: pathlib.Path) -> None:
    """Append-only: what is there stays; new records follow."""
    path = tmp_path / "audit.jsonl"
    path.write_text('{"seq":1,"old":true}\n')
    audit = AuditLog(path, fsync=False)
    audit.open()
    await audit.write({"new": True})
    await audit.aclose()
    assert records(path) == [{"seq": 1, "old": True}, {"seq": 1, "new": True}]


class FlakyFile(io.BytesIO):
    """A file whose flush fails while ``broken`` is set, after keeping half the data
    when ``tear`` is set."""

    def __init__(self, sink: bytearray, broken: list[bool], *, tear: bool = True) -> None:
        super().__init__()
        self._sink, self._broken, self._tear = sink, broken, tear

    def flush(self) -> None:
        data = self.getvalue()
        self.seek(0)
        self.truncate()
        if self._broken[0]:
            if self._tear:
                self._sink.extend(data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        self._sink.extend(data)

    def fileno(self) -> int:
        raise OSError(22, "no descriptor")


async def test_a_failed_write_raises_and_the_next_one_starts_on_a_new_line(
    tmp_path: pathlib.Path,
) -> None:
    """A write error is reported to the waiter; after it, a torn line is not continued."""
    sink, broken = bytearray(), [True]
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, fsync=False, opener=lambda _: FlakyFile(sink, broken))
    audit.open()
    with pytest.raises(AuditUnavailable, match="No space left on device"):
        await audit.write({"n": 1})
    broken[0] = False
    path.write_bytes(bytes(sink))  # what the failed write left on "disk"
    await audit.write({"n": 2})
    await audit.aclose()
    lines = bytes(sink).split(b"\n")
    assert lines[-1] == b""
    assert json.loads(lines[-2])["type"] == "stop"
    last = {k: v for k, v in json.loads(lines[-3]).items() if k not in ("mac", "chain")}
    assert last == {"seq": 1, "n": 2}
    # Nothing was ever written whole, so the log starts over with its start anchor.
    assert json.loads(lines[-4])["reason"] == "start"


async def test_reopen_follows_log_rotation(tmp_path: pathlib.Path) -> None:
    """After the file is moved away and reopen() is called, records go to a new file."""
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path)
    audit.open()
    await audit.write({"n": 1})
    path.rename(tmp_path / "audit.jsonl.1")
    audit.reopen()
    await audit.write({"n": 2})
    await audit.aclose()
    assert [r["n"] for r in records(tmp_path / "audit.jsonl.1")] == [1]
    assert [r["n"] for r in records(path)] == [2]


# --- through the server --------------------------------------------------------------------


@pytest.fixture
async def audited(
    start_server: StartServer, write_policy: WritePolicy, tmp_path: pathlib.Path
) -> RunningServer:
    """Bearer callers over plaintext loopback, an audit log in tmp_path."""
    return await start_server(
        security=SecuritySettings(
            policy_file=write_policy(POLICY), audit_log=tmp_path / "audit.jsonl"
        )
    )


async def call(
    running: RunningServer, request: ts.TokenRequest, secret: str | None = APP
) -> ts.Token | grpc.aio.AioRpcError:
    metadata = (("authorization", f"Bearer {secret}"),) if secret else ()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{running.port}") as channel:
        try:
            token: ts.Token = await ts_grpc.TokenServiceStub(channel).MintToken(
                request, timeout=10, metadata=metadata
            )
        except grpc.aio.AioRpcError as error:
            return error
        return token


async def test_every_outcome_is_recorded(
    audited: RunningServer, emulator: Emulator, tmp_path: pathlib.Path
) -> None:
    """Granted, repeated, invalid, policy-denied, reused id, rate-limited, unauthenticated
    and upstream failures each leave one record with the decision and its reason."""
    request_id = str(uuid.uuid4())
    constrained = ts.TokenRequest(
        constraints=ts.LiveConstraints(
            model="gemini-live-2.5-flash-preview",
            config=lc.LiveConfig(
                system_instruction=lc.Content(parts=[lc.Part(text="private instruction")])
            ),
        ),
        request_id=request_id,
        uses=2,
    )
    granted = await call(audited, constrained)
    repeated = await call(audited, constrained)
    outcomes = [
        await call(audited, ts.TokenRequest(uses=-1)),
        await call(audited, ts.TokenRequest(uses=6)),
        await call(audited, ts.TokenRequest(uses=3, request_id=request_id)),
        await call(audited, ts.TokenRequest(), secret=LIMITED),
        await call(audited, ts.TokenRequest(), secret=LIMITED),
        await call(audited, ts.TokenRequest(), secret="wrong-secret-0123456789abcdefghij"),
    ]
    emulator.faults.push(Fault.status(503, count=3))
    outcomes.append(await call(audited, ts.TokenRequest()))
    assert isinstance(granted, ts.Token)
    assert isinstance(repeated, ts.Token)
    assert repeated.name == granted.name

    log = records(tmp_path / "audit.jsonl")
    assert [r["seq"] for r in log] == list(range(1, 10))
    assert [(r["caller"], r["decision"], r.get("reason")) for r in log] == [
        ("bearer:app", "allow", None),
        ("bearer:app", "allow", None),
        ("bearer:app", "deny", "INVALID_REQUEST"),
        ("bearer:app", "deny", "POLICY_DENIED"),
        ("bearer:app", "deny", "REQUEST_ID_REUSED"),
        ("bearer:limited", "allow", None),
        ("bearer:limited", "deny", "RATE_LIMITED"),
        ("-", "deny", "UNAUTHENTICATED"),
        ("bearer:app", "deny", "UPSTREAM_UNAVAILABLE"),
    ]
    first, again = log[0], log[1]
    assert first["token"]["fingerprint"] == granted.fingerprint
    assert again["token"]["fingerprint"] == granted.fingerprint
    assert first["token"]["expire_time"] == rfc3339(granted.expire_time.ToDatetime(tzinfo=UTC))
    assert first["token"]["uses"] == 2
    assert (first["deduplicated"], again["deduplicated"]) == (False, True)
    assert first["request"] == {
        "request_id": request_id,
        "model": "models/gemini-live-2.5-flash-preview",
        "uses": 2,
        "lifetime_s": None,
        "new_session_window_s": None,
        "lock_mode": "LOCK_MODE_UNSPECIFIED",
        "lock_fields": [],
    }
    assert first["auth"] == "bearer"
    assert first["credential"] == hash_secret(APP)[:19]
    assert log[3]["rule"] == "max_uses"
    assert log[3]["fields"] == ["uses"]
    assert log[6]["retry_delay_s"] > 3500
    assert log[7]["auth"] == "bearer"
    assert log[7]["credential"].startswith("hmac-sha256:")
    assert log[8]["details"]["httpStatus"] == "503"
    text = (tmp_path / "audit.jsonl").read_text()
    assert granted.name not in text
    assert "private instruction" not in text
    assert APP not in text
    assert isinstance(outcomes.pop(3), ts.Token)
    assert all(isinstance(o, grpc.aio.AioRpcError) for o in outcomes)


async def test_concurrent_mints_are_recorded_in_seq_order(
    audited: RunningServer, tmp_path: pathlib.Path
) -> None:
    """Many mints at once: one record each, seq matching file order, every fingerprint."""
    results = await asyncio.gather(*(call(audited, ts.TokenRequest()) for _ in range(30)))
    log = records(tmp_path / "audit.jsonl")
    assert [r["seq"] for r in log] == list(range(1, 31))
    tokens = [r for r in results if isinstance(r, ts.Token)]
    assert len(tokens) == 30
    assert {r["token"]["fingerprint"] for r in log} == {t.fingerprint for t in tokens}


async def test_an_unwritable_audit_log_withholds_the_token(
    start_server: StartServer, write_policy: WritePolicy, emulator: Emulator
) -> None:
    """Fail closed: Google minted, the record could not be written (disk full), so the
    caller gets UNAVAILABLE / AUDIT_UNAVAILABLE and no token."""
    running = await start_server(
        security=SecuritySettings(
            policy_file=write_policy(POLICY), audit_log=pathlib.Path("/dev/full")
        )
    )
    outcome = await call(running, ts.TokenRequest())
    assert isinstance(outcome, grpc.aio.AioRpcError)
    info = details(outcome)
    assert (info.code, info.reason) == (grpc.StatusCode.UNAVAILABLE, "AUDIT_UNAVAILABLE")
    assert len(emulator.tokens) == 1
    (name,) = emulator.tokens
    assert name not in info.raw
    assert not outcome.trailing_metadata() or all(
        name not in str(v) for _, v in outcome.trailing_metadata()
    )


async def test_a_refusal_stands_when_the_audit_log_is_unwritable(
    start_server: StartServer, write_policy: WritePolicy
) -> None:
    """A refused request keeps its own reason; the lost record is only logged."""
    running = await start_server(
        security=SecuritySettings(
            policy_file=write_policy(POLICY), audit_log=pathlib.Path("/dev/full")
        )
    )
    outcome = await call(running, ts.TokenRequest(uses=-1))
    assert isinstance(outcome, grpc.aio.AioRpcError)
    assert details(outcome).reason == "INVALID_REQUEST"


async def test_fail_open_returns_the_token_when_asked_to(
    start_server: StartServer, write_policy: WritePolicy
) -> None:
    """With audit_fail_open the token is returned despite the lost record."""
    running = await start_server(
        security=SecuritySettings(
            policy_file=write_policy(POLICY),
            audit_log=pathlib.Path("/dev/full"),
            audit_fail_open=True,
        )
    )
    assert isinstance(await call(running, ts.TokenRequest()), ts.Token)


async def test_an_idempotent_retry_after_an_audit_failure_gets_the_withheld_token(
    start_server: StartServer,
    write_policy: WritePolicy,
    tmp_path: pathlib.Path,
    emulator: Emulator,
) -> None:
    """The withheld token is not lost: once the log works again, the same request_id
    returns it (recorded), and Google is not asked twice."""
    sink, broken = bytearray(), [True]
    running = await start_server(
        security=SecuritySettings(
            policy_file=write_policy(POLICY),
            audit_log=tmp_path / "audit.jsonl",
            audit_fsync=False,
        )
    )
    assert running.security is not None
    audit = running.security.audit
    assert audit is not None
    audit._opener = lambda _: FlakyFile(sink, broken, tear=False)  # inject a failing disk
    audit.reopen()
    request = ts.TokenRequest(request_id=str(uuid.uuid4()))
    first = await call(running, request)
    assert isinstance(first, grpc.aio.AioRpcError)
    assert details(first).reason == "AUDIT_UNAVAILABLE"
    broken[0] = False
    second = await call(running, request)
    assert isinstance(second, ts.Token)
    assert len(emulator.tokens) == 1
    assert json.loads(bytes(sink).splitlines()[-1])["token"]["fingerprint"] == second.fingerprint


async def test_an_audit_log_that_cannot_be_opened_stops_start_up(
    start_server: StartServer, write_policy: WritePolicy, tmp_path: pathlib.Path
) -> None:
    """A missing directory is found at start-up, not at the first mint."""
    with pytest.raises(SettingsError, match=r"audit log .*cannot open it"):
        await start_server(
            security=SecuritySettings(
                policy_file=write_policy(POLICY), audit_log=tmp_path / "no" / "audit.jsonl"
            )
        )


def test_the_documented_record_format_matches_real_records() -> None:
    """The two example lines in docs/security.md have exactly the keys real records have."""
    from livetokens.server.errors import Failure, FieldViolation, Reason
    from livetokens.server.security.audit import grant_record, refusal_record
    from livetokens.server.security.identity import Identity

    doc = (pathlib.Path(__file__).parents[2] / "docs" / "security.md").read_text()
    examples = [json.loads(line) for line in doc.splitlines() if line.startswith('{"seq":')]
    assert len(examples) == 2
    identity = Identity("c", "bearer", "ipv4:10.0.0.1:1", "sha256:0123456789ab")
    token = ts.Token(fingerprint="hmac-sha256:00", model="models/m", uses=1)
    grant = (
        {"seq": 1, "chain": "c"}
        | grant_record(
            time="t", identity=identity, request=ts.TokenRequest(), token=token, deduplicated=False
        )
        | {"mac": "m"}
    )
    failure = Failure(
        Reason.POLICY_DENIED,
        "no",
        metadata={"rule": "max_uses"},
        field_violations=[FieldViolation("uses", "too many")],
    )
    refusal = (
        {"seq": 2, "chain": "c"}
        | refusal_record(time="t", identity=identity, request=ts.TokenRequest(), failure=failure)
        | {"mac": "m"}
    )
    for example, real in zip(examples, [grant, refusal], strict=True):
        assert example.keys() == real.keys() - (
            {"credential"} if "credential" not in example else set()
        )
        assert example["request"].keys() == real["request"].keys()
        if "token" in real:
            assert example["token"].keys() == real["token"].keys()
    section = doc[doc.index("### Record format") :]
    for key in set(grant) | set(refusal) | {"details", "retry_delay_s"}:
        assert f"`{key}`" in section, key


async def test_a_call_cancelled_while_minting_is_recorded(
    audited: RunningServer, emulator: Emulator, tmp_path: pathlib.Path
) -> None:
    """A caller that cancels while Google works leaves a `cancelled` record, no token."""
    emulator.faults.push(Fault.latency(2.0))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{audited.port}") as channel:
        pending = ts_grpc.TokenServiceStub(channel).MintToken(
            ts.TokenRequest(), timeout=10, metadata=(("authorization", f"Bearer {APP}"),)
        )
        async with asyncio.timeout(10):
            while not emulator.requests:  # noqa: ASYNC110 - until Google has the request
                await asyncio.sleep(0.01)
            pending.cancel()
            path = tmp_path / "audit.jsonl"
            while not records(path):  # noqa: ASYNC110 - the record is written in the background
                await asyncio.sleep(0.01)
    (record,) = records(path)
    assert (record["caller"], record["decision"]) == ("bearer:app", "cancelled")
    assert "token" not in record
