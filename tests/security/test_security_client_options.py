"""The Python client's own TLS options against real secure servers on 127.0.0.1:0:
ca_file, cert_file + key_file (mutual TLS), bearer_token, and the code of a failed handshake."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sec_support import PKI, SPIFFE_ID, StartServer, WritePolicy

from livetokens.client import Client, error_details
from livetokens.server.security.policy import hash_secret
from livetokens.server.settings import SecuritySettings
from livetokens.v1 import token_service_pb2 as ts

BEARER = "bearer-secret-for-the-client-options-0123456789"
POLICY = f"""
[callers."{SPIFFE_ID}"]
[callers.batch]
credentials = ["{hash_secret(BEARER)}"]
"""


def _tls(pki: PKI, write_policy: WritePolicy, *, client_ca: bool = False) -> SecuritySettings:
    """TLS with the test PKI's server certificate and POLICY; client certificates are
    required when ``client_ca``."""
    return SecuritySettings(
        tls_cert=pki.server.cert_path,
        tls_key=pki.server.key_path,
        tls_client_ca=pki.ca_path if client_ca else None,
        policy_file=write_policy(POLICY),
    )


async def test_client_files_give_mutual_tls(
    start_server: StartServer, pki: PKI, write_policy: WritePolicy
) -> None:
    """ca_file, cert_file and key_file mint from a server that requires client certificates."""
    server = await start_server(security=_tls(pki, write_policy, client_ca=True))

    def mint() -> ts.Token:
        with Client(
            f"127.0.0.1:{server.port}",
            ca_file=pki.ca_path,
            cert_file=pki.spiffe_client.cert_path,
            key_file=pki.spiffe_client.key_path,
        ) as client:
            return client.mint_token(ts.TokenRequest(), timeout=10)

    token = await asyncio.to_thread(mint)
    assert token.fingerprint.startswith("hmac-sha256:")


async def test_bearer_token_option_authenticates(
    start_server: StartServer, pki: PKI, write_policy: WritePolicy
) -> None:
    """bearer_token over TLS (ca_file) mints; without it the error decodes as UNAUTHENTICATED."""
    server = await start_server(security=_tls(pki, write_policy))
    target = f"127.0.0.1:{server.port}"

    def mint(bearer: str | None) -> ts.Token:
        with Client(target, ca_file=pki.ca_path, bearer_token=bearer) as client:
            return client.mint_token(ts.TokenRequest(), timeout=10)

    assert (await asyncio.to_thread(mint, BEARER)).name.startswith("auth_tokens/")
    with pytest.raises(grpc.RpcError) as caught:
        await asyncio.to_thread(mint, None)
    details = error_details(caught.value)
    assert details.code == grpc.StatusCode.UNAUTHENTICATED
    assert details.error_reason == ts.ERROR_REASON_UNAUTHENTICATED


async def test_tls_handshake_failure_is_unavailable(
    start_server: StartServer, pki: PKI, write_policy: WritePolicy
) -> None:
    """A server certificate from a CA the client does not trust fails as UNAVAILABLE (no reason)."""
    server = await start_server(security=_tls(pki, write_policy))

    def mint() -> ts.Token:
        with Client(f"127.0.0.1:{server.port}", bearer_token=BEARER) as client:  # system roots
            return client.mint_token(ts.TokenRequest(), timeout=10)

    with pytest.raises(grpc.RpcError) as caught:
        await asyncio.to_thread(mint)
    details = error_details(caught.value)
    assert details.code == grpc.StatusCode.UNAVAILABLE
    assert details.error_reason == ts.ERROR_REASON_UNSPECIFIED


def test_contradictory_tls_options_are_refused() -> None:
    """plaintext with TLS files, half a key pair, or credentials with files raise ValueError."""
    with pytest.raises(ValueError, match="plaintext"):
        Client("127.0.0.1:1", plaintext=True, ca_file="ca.pem")
    with pytest.raises(ValueError, match="key_file"):
        Client("127.0.0.1:1", cert_file="me.pem")
    with pytest.raises(ValueError, match="not both"):
        Client("127.0.0.1:1", credentials=grpc.ssl_channel_credentials(), ca_file="ca.pem")
