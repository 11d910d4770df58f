"""Real servers on 127.0.0.1:0: mutual TLS, bearer over TLS, the trusted-proxy header,
and certificate rotation."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import shutil
import subprocess
import sys

import grpc
import pytest
from sec_support import (
    DNS_NAME,
    PKI,
    SPIFFE_ID,
    StartServer,
    WritePolicy,
    client_credentials,
    details,
    mint_over,
    new_authority_server,
)

from livetokens.emulator import Emulator
from livetokens.server import RunningServer
from livetokens.server.security.policy import hash_secret
from livetokens.server.settings import SecuritySettings
from livetokens.v1 import token_service_pb2 as ts

BEARER = "bearer-secret-for-the-batch-job-0123456789abcdef"

POLICY = f"""
[callers."{SPIFFE_ID}"]
[callers."dns:{DNS_NAME}"]
[callers.batch]
credentials = ["{hash_secret(BEARER)}"]
"""


async def mint(
    port: int,
    credentials: grpc.ChannelCredentials | None,
    metadata: tuple[tuple[str, str], ...] = (),
) -> ts.Token:
    """One MintToken over a fresh channel (TLS when ``credentials`` is given)."""
    return await mint_over(port, credentials, metadata)


async def refused(
    port: int,
    credentials: grpc.ChannelCredentials | None,
    metadata: tuple[tuple[str, str], ...] = (),
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await mint(port, credentials, metadata)
    return caught.value


@pytest.fixture
async def mtls_server(
    start_server: StartServer, pki: PKI, write_policy: WritePolicy
) -> RunningServer:
    """A server requiring client certificates from the test CA, with the policy above."""
    return await start_server(
        security=SecuritySettings(
            tls_cert=pki.server.cert_path,
            tls_key=pki.server.key_path,
            tls_client_ca=pki.ca_path,
            policy_file=write_policy(POLICY),
        )
    )


async def test_mtls_with_a_spiffe_id_mints(mtls_server: RunningServer, pki: PKI) -> None:
    """A client certificate with a SPIFFE URI SAN named in the policy gets a token."""
    token = await mint(mtls_server.port, client_credentials(pki, pki.spiffe_client))
    assert token.name.startswith("auth_tokens/")


async def test_mtls_with_a_dns_san_mints(mtls_server: RunningServer, pki: PKI) -> None:
    """A client certificate with a DNS SAN named `dns:<name>` in the policy gets a token."""
    token = await mint(mtls_server.port, client_credentials(pki, pki.dns_client))
    assert token.name.startswith("auth_tokens/")


async def test_mtls_with_an_unknown_identity_is_unauthenticated(
    mtls_server: RunningServer, pki: PKI, emulator: Emulator
) -> None:
    """A certificate from the right CA whose identity the policy does not know:
    UNAUTHENTICATED with ErrorInfo, and Google is never asked."""
    error = await refused(mtls_server.port, client_credentials(pki, pki.unknown_client))
    info = details(error)
    assert (info.code, info.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    assert info.metadata == {"method": "mtls"}
    assert emulator.requests == []


async def test_mtls_with_a_certificate_without_sans_is_unauthenticated(
    mtls_server: RunningServer, pki: PKI
) -> None:
    """A certificate with only a common name identifies nobody."""
    error = await refused(mtls_server.port, client_credentials(pki, pki.no_san_client))
    assert details(error).reason == "UNAUTHENTICATED"


async def test_mtls_without_a_client_certificate_fails_the_handshake(
    mtls_server: RunningServer, pki: PKI, emulator: Emulator
) -> None:
    """No client certificate: the TLS handshake is refused (UNAVAILABLE), nothing minted."""
    error = await refused(mtls_server.port, client_credentials(pki, None))
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert emulator.requests == []


async def test_mtls_with_a_certificate_from_another_ca_fails_the_handshake(
    mtls_server: RunningServer, pki: PKI, emulator: Emulator
) -> None:
    """A certificate naming a known SPIFFE id but signed by another CA is refused."""
    error = await refused(mtls_server.port, client_credentials(pki, pki.wrong_ca_client))
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert emulator.requests == []


async def test_plaintext_to_a_tls_server_fails(mtls_server: RunningServer) -> None:
    """A plaintext client cannot talk to the TLS port at all."""
    error = await refused(mtls_server.port, None)
    assert error.code() is grpc.StatusCode.UNAVAILABLE


@pytest.fixture
async def bearer_server(
    start_server: StartServer, pki: PKI, write_policy: WritePolicy
) -> RunningServer:
    """Server-only TLS; callers authenticate with bearer secrets."""
    return await start_server(
        security=SecuritySettings(
            tls_cert=pki.server.cert_path,
            tls_key=pki.server.key_path,
            policy_file=write_policy(POLICY),
        )
    )


async def test_bearer_over_tls_mints(bearer_server: RunningServer, pki: PKI) -> None:
    """`authorization: Bearer <secret>` whose hash is in the policy gets a token."""
    token = await mint(
        bearer_server.port,
        client_credentials(pki, None),
        (("authorization", f"Bearer {BEARER}"),),
    )
    assert token.name.startswith("auth_tokens/")


@pytest.mark.parametrize(
    "metadata",
    [(), (("authorization", "Bearer not-the-secret-at-all-0123456789"),)],
    ids=["none", "wrong"],
)
async def test_bearer_missing_or_wrong_is_unauthenticated(
    bearer_server: RunningServer, pki: PKI, metadata: tuple[tuple[str, str], ...]
) -> None:
    """No credential or a wrong one: UNAUTHENTICATED with ErrorInfo, never INTERNAL."""
    error = await refused(bearer_server.port, client_credentials(pki, None), metadata)
    info = details(error)
    assert (info.code, info.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    assert "not-the-secret" not in info.raw


XFCC = f"Hash=abc;URI={SPIFFE_ID};DNS=frontend.example.org"


async def test_the_proxy_header_is_trusted_from_the_configured_peer(
    start_server: StartServer, write_policy: WritePolicy
) -> None:
    """Plaintext from a trusted sidecar (127.0.0.1): XFCC names the caller."""
    running = await start_server(
        security=SecuritySettings(trusted_proxies=("127.0.0.1",), policy_file=write_policy(POLICY))
    )
    token = await mint(running.port, None, (("x-forwarded-client-cert", XFCC),))
    assert token.name.startswith("auth_tokens/")


async def test_the_proxy_header_from_an_untrusted_peer_is_refused(
    start_server: StartServer, write_policy: WritePolicy
) -> None:
    """The same header from a peer that is not the configured proxy: UNAUTHENTICATED."""
    running = await start_server(
        security=SecuritySettings(trusted_proxies=("10.255.0.1",), policy_file=write_policy(POLICY))
    )
    error = await refused(running.port, None, (("x-forwarded-client-cert", XFCC),))
    info = details(error)
    assert (info.code, info.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    assert info.metadata == {"method": "proxy"}


async def test_a_rotated_server_certificate_is_used_for_new_connections(
    start_server: StartServer, pki: PKI, write_policy: WritePolicy, tmp_path: pathlib.Path
) -> None:
    """Replacing the cert/key files switches new handshakes to the new certificate."""
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    shutil.copyfile(pki.server.cert_path, cert)
    shutil.copyfile(pki.server.key_path, key)
    running = await start_server(
        security=SecuritySettings(tls_cert=cert, tls_key=key, policy_file=write_policy(POLICY))
    )
    bearer = (("authorization", f"Bearer {BEARER}"),)
    await mint(running.port, client_credentials(pki, None), bearer)

    new_ca, rotated = new_authority_server(tmp_path)
    # A half-done rotation (new certificate, old key) is not taken: the old pair stays.
    cert.write_bytes(rotated.cert)
    await mint(running.port, client_credentials(pki, None), bearer)
    key.write_bytes(rotated.key)

    await mint(running.port, grpc.ssl_channel_credentials(root_certificates=new_ca), bearer)
    error = await refused(running.port, client_credentials(pki, None), bearer)
    assert error.code() is grpc.StatusCode.UNAVAILABLE
    assert running.security is not None
    assert running.security.tls is not None
    assert running.security.tls.reloads == 1


# --- `livetokens mint` against these servers --------------------------------------------

CLI = [
    sys.executable,
    "-m",
    "livetokens.server",
    "mint",
    "--model",
    "gemini-live-2.5-flash-preview",
]


async def run_cli(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LIVETOKENS_")}
    return await asyncio.to_thread(
        subprocess.run,
        [*CLI, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**base, **(env or {})},
    )


async def test_mint_cli_with_a_client_certificate(mtls_server: RunningServer, pki: PKI) -> None:
    """--ca, --cert and --key give mutual TLS; the server names the caller by its SPIFFE ID."""
    result = await run_cli(
        "--target", f"127.0.0.1:{mtls_server.port}",
        "--ca", str(pki.ca_path),
        "--cert", str(pki.spiffe_client.cert_path),
        "--key", str(pki.spiffe_client.key_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"].startswith("auth_tokens/")


async def test_mint_cli_without_a_certificate_is_refused(
    mtls_server: RunningServer, pki: PKI
) -> None:
    """Without a client certificate the handshake fails and the CLI exits 1 with the code."""
    result = await run_cli("--target", f"127.0.0.1:{mtls_server.port}", "--ca", str(pki.ca_path))
    assert result.returncode == 1
    assert json.loads(result.stderr[result.stderr.index("{") :])["code"] == "UNAVAILABLE"


@pytest.mark.parametrize("how", ["file", "env"])
async def test_mint_cli_with_a_bearer_secret(
    bearer_server: RunningServer, pki: PKI, tmp_path: pathlib.Path, how: str
) -> None:
    """The bearer secret comes from --bearer-file or $LIVETOKENS_BEARER, never a flag value."""
    args = ["--target", f"127.0.0.1:{bearer_server.port}", "--ca", str(pki.ca_path)]
    env = {}
    if how == "file":
        secret = tmp_path / "bearer"
        secret.write_text(BEARER + "\n")
        args += ["--bearer-file", str(secret)]
    else:
        env["LIVETOKENS_BEARER"] = BEARER
    result = await run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert BEARER not in result.stdout + result.stderr


async def test_mint_cli_without_the_bearer_is_unauthenticated(
    bearer_server: RunningServer, pki: PKI
) -> None:
    """No credentials: UNAUTHENTICATED with its reason, exit 1."""
    result = await run_cli("--target", f"127.0.0.1:{bearer_server.port}", "--ca", str(pki.ca_path))
    assert result.returncode == 1
    error = json.loads(result.stderr[result.stderr.index("{") :])
    assert (error["code"], error["reason"]) == ("UNAUTHENTICATED", "UNAUTHENTICATED")
