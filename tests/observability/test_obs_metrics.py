"""Prometheus metrics: every family the README lists, bounded labels, no secrets."""

from __future__ import annotations

import dataclasses
import hashlib
import pathlib
import secrets
import uuid

import grpc
from lt_support import API_KEY, MODEL, seed_request
from obs_support import ADMIN_ON, StartServer, label_values, scrape, value

from livetokens.emulator import Emulator, Fault
from livetokens.server.metrics import MAX_LABEL_VALUES, BoundedLabel, Metrics
from livetokens.server.security.policy import hash_secret
from livetokens.server.settings import SecuritySettings
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

APP = "metrics-app-secret-" + secrets.token_hex(8)
LIMITED = "metrics-limited-secret-" + secrets.token_hex(8)
POLICY = f"""
[callers.app]
credentials = ["{hash_secret(APP)}"]
[callers.limited]
credentials = ["{hash_secret(LIMITED)}"]
rate = "1/h"
burst = 1
"""


async def _mint(port: int, request: ts.TokenRequest, secret: str | None) -> ts.Token | str:
    metadata = (("authorization", f"Bearer {secret}"),) if secret else ()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            return await ts_grpc.TokenServiceStub(channel).MintToken(
                request, timeout=10, metadata=metadata
            )
        except grpc.aio.AioRpcError as error:
            return error.code().name


async def test_mints_upstream_audit_idempotency_and_policy_are_measured(
    start_server: StartServer, emulator: Emulator, tmp_path: pathlib.Path
) -> None:
    """A mix of outcomes shows up in each family with the right labels and counts."""
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    running = await start_server(
        observability=ADMIN_ON,
        security=SecuritySettings(policy_file=policy, audit_log=tmp_path / "audit.jsonl"),
    )
    port = running.port
    repeat = seed_request(request_id=str(uuid.uuid4()))
    tokens = [await _mint(port, repeat, APP), await _mint(port, repeat, APP)]
    emulator.faults.push(Fault.status(503))
    tokens.append(await _mint(port, seed_request(), APP))  # one retry upstream
    assert await _mint(port, ts.TokenRequest(uses=-1), APP) == "INVALID_ARGUMENT"
    tokens.append(await _mint(port, ts.TokenRequest(), LIMITED))
    assert await _mint(port, ts.TokenRequest(), LIMITED) == "RESOURCE_EXHAUSTED"
    assert await _mint(port, ts.TokenRequest(), "stranger-secret") == "UNAUTHENTICATED"
    assert all(isinstance(t, ts.Token) for t in tokens)

    text = await scrape(running)
    model = MODEL
    assert (
        value(text, "livetokens_mints_total", caller="bearer:app", model=model, outcome="OK") == 3
    )
    assert (
        value(text, "livetokens_mints_total", caller="bearer:app", outcome="INVALID_REQUEST") == 1
    )
    assert value(text, "livetokens_mints_total", caller="bearer:limited", outcome="OK") == 1
    assert (
        value(text, "livetokens_mints_total", caller="bearer:limited", outcome="RATE_LIMITED") == 1
    )
    assert value(text, "livetokens_mints_total", caller="unknown", outcome="UNAUTHENTICATED") == 1
    assert label_values(text, "livetokens_mints_total", "caller") == {
        "bearer:app",
        "bearer:limited",
        "unknown",
    }
    assert value(text, "livetokens_rate_limit_refusals_total", caller="bearer:limited") == 1
    assert value(text, "livetokens_mint_duration_seconds_count") == 7
    assert value(text, "livetokens_mints_in_flight") == 0
    # Upstream: 3 mints reached Google (the repeat did not); one was retried after a 503.
    assert value(text, "livetokens_upstream_attempts_total", status_class="5xx") == 1
    assert value(text, "livetokens_upstream_attempts_total", status_class="2xx", retry="true") == 1
    assert value(text, "livetokens_upstream_attempts_total", status_class="2xx") == 3
    assert value(text, "livetokens_upstream_request_duration_seconds_count") == 4
    # Every decision was audited (7 calls), none failed; the writes were timed.
    assert value(text, "livetokens_audit_writes_total", result="ok") == 7
    assert value(text, "livetokens_audit_writes_total", result="failed") == 0
    assert value(text, "livetokens_audit_write_duration_seconds_count") == 7
    assert value(text, "livetokens_idempotency_entries") == 1
    assert value(text, "livetokens_idempotency_bytes") > 100
    digest = hashlib.sha256(policy.read_bytes()).hexdigest()
    assert value(text, "livetokens_policy_info", sha256=digest, source=str(policy)) == 1
    assert value(text, "livetokens_admission_refusals_total") == 0
    assert value(text, "livetokens_drain_cut_off_mints_total") == 0
    for secret in (APP, LIMITED, API_KEY, *(t.name for t in tokens if isinstance(t, ts.Token))):
        assert secret not in text


async def test_a_failed_audit_write_is_counted(
    start_server: StartServer, tmp_path: pathlib.Path
) -> None:
    """Audit records that cannot be written (a full disk) count as failed writes."""
    running = await start_server(
        observability=ADMIN_ON,
        security=dataclasses.replace(
            SecuritySettings(insecure_no_auth=True), audit_log=pathlib.Path("/dev/full")
        ),
    )
    assert await _mint(running.port, seed_request(), None) == "UNAVAILABLE"
    text = await scrape(running)
    assert value(text, "livetokens_audit_writes_total", result="failed") >= 1
    assert value(text, "livetokens_mints_total", outcome="AUDIT_UNAVAILABLE") == 1


def test_label_values_are_bounded() -> None:
    """After MAX_LABEL_VALUES distinct values a label collapses to 'other'."""
    label = BoundedLabel()
    assert [label(f"v{i}") for i in range(MAX_LABEL_VALUES)] == [
        f"v{i}" for i in range(MAX_LABEL_VALUES)
    ]
    assert label("one-too-many") == "other"
    assert label("v7") == "v7"


def test_callers_the_policy_does_not_name_and_odd_models_collapse() -> None:
    """Unknown callers become 'unknown'; invalid model ids 'invalid'; none 'none'."""
    metrics = Metrics(known_caller=lambda caller: caller == "app")
    assert metrics.caller_label("app") == "app"
    assert metrics.caller_label("spiffe://x/attacker-chosen") == "unknown"
    assert metrics.model_label("models/" + MODEL) == MODEL
    assert metrics.model_label("not a model\n") == "invalid"
    assert metrics.model_label("") == "none"
