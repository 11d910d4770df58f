"""A real L7 proxy in front of livetokens, the way a mesh sidecar stands in front of it.

Caddy (pinned, `go install` by `make deploy-tools`) listens on loopback, terminates the
caller's mutual TLS (a PKI made at test time), and forwards the gRPC call over h2c to
livetokens with the verified identity in `x-forwarded-client-cert` — set, never appended,
so a caller's own header is replaced (Envoy's SANITIZE_SET with the URI of the client
certificate). Like Istio's sidecar, Caddy connects to livetokens from 127.0.0.6, the one
address livetokens trusts the header from (`--trusted-proxy 127.0.0.6/32`); callers on
127.0.0.1 that send the header themselves are refused. livetokens runs as a real process
(so SIGTERM is real) against the emulator's slow model.

Why Caddy: Debian's nginx 1.22 and haproxy 2.6 expose no variable for a client
certificate's URI SAN, so they cannot forward a SPIFFE id without scripting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import secrets
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from deploy_support import (
    REPO,
    Child,
    child,
    clean_env,
    free_port,
    tool,
    wait_for_port_file,
)

from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

sys.path.insert(0, str(REPO / "tests" / "security"))
from sec_support import PKI, SPIFFE_ID, UNKNOWN_SPIFFE_ID, client_credentials, make_pki

SIDECAR_ADDRESS = "127.0.0.6"
SLOW = "slow-model"
SLOW_MS = 2500
ALLOWED_MODEL = "gemini-live-2.5-flash-preview"
XFCC = "x-forwarded-client-cert"

POLICY = f"""
version = 1
[callers."{SPIFFE_ID}"]
# the frontend may mint any model

[callers."{UNKNOWN_SPIFFE_ID}"]
models = ["some-other-model"]
"""

# Caddy placeholders of the verified client certificate (doubled braces: str.format).
XFCC_VALUE = (
    "Hash={{http.request.tls.client.fingerprint}};URI={{http.request.tls.client.san.uris.0}}"
)
CADDYFILE = """
{{
	admin off
	auto_https off
	skip_install_trust
	persist_config off
}}
https://localhost:{proxy_port} {{
	bind 127.0.0.1
	tls {cert} {key} {{
		client_auth {{
			mode require_and_verify
			trust_pool file {ca}
		}}
	}}
	reverse_proxy h2c://127.0.0.1:{upstream_port} {{
		# The verified client certificate, as an Envoy XFCC element, replacing
		# whatever the caller sent (SANITIZE_SET).
		header_up X-Forwarded-Client-Cert "{xfcc}"
		transport http {{
			versions h2c
			local_address {sidecar}
		}}
	}}
}}
"""


class Stack:
    """The emulator, livetokens and Caddy, each a real process on loopback."""

    def __init__(
        self, pki: PKI, livetokens: Child, port: int, proxy_port: int, audit: pathlib.Path
    ):
        self.pki = pki
        self.livetokens = livetokens
        self.port = port
        self.proxy_port = proxy_port
        self.audit = audit

    def via_proxy(self, client: object) -> grpc.aio.Channel:
        """A TLS channel to the proxy presenting ``client``'s certificate."""
        return grpc.aio.secure_channel(
            # By name: Caddy requires the TLS server name to match :authority when it
            # verifies client certificates (an IP address sends no server name).
            f"localhost:{self.proxy_port}",
            client_credentials(self.pki, client),  # type: ignore[arg-type]
        )

    def direct(self) -> grpc.aio.Channel:
        """A plaintext channel straight to livetokens, from 127.0.0.1."""
        return grpc.aio.insecure_channel(f"127.0.0.1:{self.port}")

    def audit_records(self) -> list[dict[str, object]]:
        """The audit log's decision records so far (not its chain or summary records)."""
        lines = self.audit.read_text().splitlines()
        return [r for r in map(json.loads, filter(None, lines)) if "decision" in r]


async def wait_listening(port: int, proc: Child) -> None:
    """Until something accepts TCP connections on 127.0.0.1:``port``."""
    async with asyncio.timeout(30):
        while True:
            if proc.process.returncode is not None:
                raise AssertionError(f"caddy exited {proc.process.returncode}:\n{proc.stderr}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            await writer.wait_closed()
            return


async def start_caddy(
    caddy: pathlib.Path,
    caddyfile: Callable[[int], pathlib.Path],
    env: dict[str, str],
    stack: contextlib.AsyncExitStack,
) -> int:
    """Start Caddy serving ``caddyfile(port)`` (stopped with ``stack``); the port.

    Caddy cannot take port 0 and report it, so the port is one that was free a moment ago;
    when another process took it meanwhile (Caddy exits: address already in use), try a new
    one, 5 times at most."""
    for _ in range(5):
        proxy_port = free_port()
        argv = [caddy, "run", "--config", caddyfile(proxy_port), "--adapter", "caddyfile"]
        proxy = await stack.enter_async_context(child(*argv, env=env))
        try:
            # Logged once every listener is bound: the port is Caddy's, not a stranger's.
            await proxy.wait_for(r"serving initial configuration")
        except AssertionError:
            if "address already in use" in proxy.stderr:
                continue
            raise
        await wait_listening(proxy_port, proxy)
        return proxy_port
    raise AssertionError("caddy found no free port in 5 attempts")


@pytest.fixture
async def stack(tmp_path: pathlib.Path) -> AsyncIterator[Stack]:
    """Emulator (with a slow model) → livetokens (trusting 127.0.0.6) ← Caddy (mTLS)."""
    caddy = tool("caddy")
    pki = make_pki(tmp_path)
    key = "proxy-test-" + secrets.token_hex(8)
    livetokens = [sys.executable, "-m", "livetokens.server"]
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    audit = tmp_path / "audit.jsonl"
    port_file = tmp_path / "port"
    async with child(
        *livetokens,
        "emulator",
        "--listen",
        "127.0.0.1:0",
        "--api-key",
        key,
        "--model-latency",
        f"{SLOW}={SLOW_MS}",
        env=clean_env(),
    ) as emulator:
        url = (await emulator.wait_for(r"Listening on (http://\S+?)[ (]")).group(1)
        async with child(
            *livetokens,
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--port-file",
            str(port_file),
            "--upstream-url",
            url,
            "--trusted-proxy",
            f"{SIDECAR_ADDRESS}/32",
            "--policy",
            str(policy),
            "--audit-log",
            str(audit),
            # Readiness NOT_SERVING for 0.5 s, then the listener stops with the slow
            # mints still in flight: they must finish within the grace period.
            "--drain-delay",
            "0.5",
            # Admin listeners on free ports (their defaults, 8081/8082, are fixed).
            "--admin-listen",
            "127.0.0.1:0",
            "--health-listen",
            "127.0.0.1:0",
            "--grace-period",
            "10",
            env=clean_env(GEMINI_API_KEY=key),
        ) as server:
            port = await wait_for_port_file(port_file, server)
            home = tmp_path / "caddy-home"
            caddy_env = clean_env(
                HOME=str(home),
                XDG_DATA_HOME=str(home / "data"),
                XDG_CONFIG_HOME=str(home / "config"),
            )
            async with contextlib.AsyncExitStack() as caddies:

                def caddyfile(proxy_port: int) -> pathlib.Path:
                    config = tmp_path / f"Caddyfile-{proxy_port}"
                    config.write_text(
                        CADDYFILE.format(
                            proxy_port=proxy_port,
                            upstream_port=port,
                            sidecar=SIDECAR_ADDRESS,
                            xfcc=XFCC_VALUE.format(),
                            cert=pki.server.cert_path,
                            key=pki.server.key_path,
                            ca=pki.ca_path,
                        )
                    )
                    return config

                proxy_port = await start_caddy(caddy, caddyfile, caddy_env, caddies)
                yield Stack(pki, server, port, proxy_port, audit)


async def mint(channel: grpc.aio.Channel, **fields: object) -> ts.Token:
    """One MintToken call with the clients' 10 s deadline."""
    return await ts_grpc.TokenServiceStub(channel).MintToken(
        ts.TokenRequest(**fields),
        timeout=10,  # type: ignore[arg-type]
    )


async def test_the_callers_certificate_identity_reaches_the_policy_through_the_proxy(
    stack: Stack,
) -> None:
    """Through the proxy, the frontend's SPIFFE id mints and is audited as the caller; the
    stranger's id gets its own (narrower) policy: PERMISSION_DENIED."""
    async with stack.via_proxy(stack.pki.spiffe_client) as channel:
        token = await mint(channel, constraints=ts.LiveConstraints(model=ALLOWED_MODEL))
    assert token.name.startswith("auth_tokens/")
    async with stack.via_proxy(stack.pki.unknown_client) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await mint(channel, constraints=ts.LiveConstraints(model=ALLOWED_MODEL))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    records = stack.audit_records()
    allowed = [r for r in records if r["decision"] == "allow"]
    refused = [r for r in records if r["decision"] == "deny"]
    assert [(r["caller"], r["auth"]) for r in allowed] == [(SPIFFE_ID, "proxy")]
    assert [(r["caller"], r["reason"]) for r in refused] == [(UNKNOWN_SPIFFE_ID, "POLICY_DENIED")]
    assert str(allowed[0]["peer"]).startswith(f"ipv4:{SIDECAR_ADDRESS}:")


async def test_a_header_the_caller_sends_through_the_proxy_is_replaced(stack: Stack) -> None:
    """The stranger claims the frontend's id in its own XFCC header; the proxy replaces it
    with the certificate's id, so the claim gains nothing."""
    forged = (("x-forwarded-client-cert", f"URI={SPIFFE_ID}"),)
    async with stack.via_proxy(stack.pki.unknown_client) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await ts_grpc.TokenServiceStub(channel).MintToken(
                ts.TokenRequest(constraints=ts.LiveConstraints(model=ALLOWED_MODEL)),
                timeout=10,
                metadata=forged,
            )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert [r["caller"] for r in stack.audit_records()] == [UNKNOWN_SPIFFE_ID]


async def test_the_header_sent_directly_by_a_caller_is_not_trusted(stack: Stack) -> None:
    """A caller on 127.0.0.1 (not the sidecar's address) sending the frontend's XFCC header
    straight to livetokens is refused: UNAUTHENTICATED, nothing minted."""
    header = (("x-forwarded-client-cert", f"Hash=00;URI={SPIFFE_ID}"),)
    async with stack.direct() as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ts_grpc.TokenServiceStub(channel).MintToken(
                ts.TokenRequest(), timeout=10, metadata=header
            )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "trusted proxy" in (refused.value.details() or "")
    assert not [r for r in stack.audit_records() if r["decision"] == "allow"]


async def test_a_retry_through_the_proxy_with_the_same_request_id_returns_the_same_token(
    stack: Stack,
) -> None:
    """Two calls through the proxy (new connections) with one request_id: one token."""
    request_id = str(uuid.uuid4())
    tokens = []
    for _ in range(2):
        async with stack.via_proxy(stack.pki.spiffe_client) as channel:
            tokens.append(await mint(channel, request_id=request_id))
    assert tokens[0].name == tokens[1].name
    assert tokens[0].fingerprint == tokens[1].fingerprint
    allowed = [r for r in stack.audit_records() if r["decision"] == "allow"]
    assert [r["deduplicated"] for r in allowed] == [False, True]


@pytest.mark.timeout(90)
async def test_sigterm_with_mints_in_flight_through_the_proxy_loses_none(stack: Stack) -> None:
    """Eight slow mints in flight through the proxy when livetokens gets SIGTERM: all eight
    return tokens, and livetokens exits 0."""
    count = 8
    async with stack.via_proxy(stack.pki.spiffe_client) as channel:
        calls = [
            asyncio.create_task(mint(channel, constraints=ts.LiveConstraints(model=SLOW)))
            for _ in range(count)
        ]
        # Every call reaches livetokens and waits on the slow upstream (2.5 s).
        await asyncio.sleep(1.0)
        assert not any(c.done() for c in calls), "the mints finished before the signal"
        os.kill(stack.livetokens.process.pid, signal.SIGTERM)
        results = await asyncio.gather(*calls, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures
    assert len({t.name for t in results if isinstance(t, ts.Token)}) == count
    assert await asyncio.wait_for(stack.livetokens.process.wait(), 30) == 0
    allowed = [r for r in stack.audit_records() if r["decision"] == "allow"]
    assert len(allowed) == count
