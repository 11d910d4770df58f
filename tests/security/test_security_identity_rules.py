"""One identity rule, over real mutual TLS with certificates made at test time: a SPIFFE
id wins over DNS names, invalid SVIDs are refused, ids are namespaced by how they were
proven, and conflicting credentials are UNAUTHENTICATED."""

from __future__ import annotations

import json
import logging
import pathlib

import grpc
import pytest
from cryptography import x509
from sec_support import (
    PKI,
    SPIFFE_ID,
    StartServer,
    WritePolicy,
    client_credentials,
    details,
    mint_over,
)

from livetokens.server.cli import main
from livetokens.server.fingerprint import Fingerprinter
from livetokens.server.security.policy import PolicyError, hash_secret, parse_policy
from livetokens.server.security.runtime import build_security
from livetokens.server.settings import SecuritySettings, SettingsError
from livetokens.v1 import token_service_pb2 as ts

SECRET = "identity-rules-bearer-secret-0123456789abcdef"
DNS = "frontend.internal.example.org"
BEARER = (("authorization", f"Bearer {SECRET}"),)


async def mint(
    port: int,
    credentials: grpc.ChannelCredentials | None,
    metadata: tuple[tuple[str, str], ...] = (),
) -> ts.Token | grpc.aio.AioRpcError:
    """One MintToken (see sec_support.mint_over); its error is returned, not raised."""
    try:
        return await mint_over(port, credentials, metadata)
    except grpc.aio.AioRpcError as error:
        return error


def unauthenticated(outcome: ts.Token | grpc.aio.AioRpcError) -> dict[str, str]:
    assert isinstance(outcome, grpc.aio.AioRpcError), "expected a refusal, got a token"
    info = details(outcome)
    assert (info.code, info.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
    return {"message": info.message, **info.metadata}


async def mtls(start_server: StartServer, pki: PKI, policy: pathlib.Path, **extra: object) -> int:
    running = await start_server(
        security=SecuritySettings(
            tls_cert=pki.server.cert_path,
            tls_key=pki.server.key_path,
            tls_client_ca=pki.ca_path,
            policy_file=policy,
            **extra,  # type: ignore[arg-type]
        )
    )
    return running.port


def spiffe_and_dns(pki: PKI) -> grpc.ChannelCredentials:
    pair = pki.issue("both", [x509.UniformResourceIdentifier(SPIFFE_ID), x509.DNSName(DNS)])
    return client_credentials(pki, pair)


# --- precedence ------------------------------------------------------------------------------


async def test_a_spiffe_id_wins_over_dns_names_whatever_the_policy_names(
    start_server: StartServer, pki: PKI, write_policy: WritePolicy
) -> None:
    """A certificate with a SPIFFE URI and a DNS SAN is its SPIFFE id: a policy naming
    only the DNS identity does not let the certificate be read as that one."""
    only_dns = await mtls(start_server, pki, write_policy(f'[callers."dns:{DNS}"]\n'))
    refused = unauthenticated(await mint(only_dns, spiffe_and_dns(pki)))
    assert SPIFFE_ID in refused["message"]
    both = write_policy(f'[callers."dns:{DNS}"]\nmax_uses = 1\n[callers."{SPIFFE_ID}"]\n')
    port = await mtls(start_server, pki, both)
    token = await mint(port, spiffe_and_dns(pki), ())
    assert isinstance(token, ts.Token)


async def test_two_spiffe_uris_are_an_invalid_svid_and_refused(
    start_server: StartServer, pki: PKI, write_policy: WritePolicy
) -> None:
    """Two SPIFFE URI SANs (gRPC sets no peer_spiffe_id): refused, even under `*`."""
    pair = pki.issue(
        "two",
        [
            x509.UniformResourceIdentifier(SPIFFE_ID),
            x509.UniformResourceIdentifier("spiffe://example.org/ns/other/sa/x"),
        ],
    )
    port = await mtls(start_server, pki, write_policy(f'[callers."*"]\n[callers."{SPIFFE_ID}"]\n'))
    refused = unauthenticated(await mint(port, client_credentials(pki, pair)))
    assert "exactly one" in refused["message"]


async def test_several_dns_names_the_policy_names_are_ambiguous(
    start_server: StartServer, pki: PKI, write_policy: WritePolicy
) -> None:
    """A certificate cannot choose between two callers it names: refused; one is fine."""
    pair = pki.issue("twodns", [x509.DNSName("a.example.org"), x509.DNSName("b.example.org")])
    ambiguous = write_policy('[callers."dns:a.example.org"]\n[callers."dns:b.example.org"]\n')
    port = await mtls(start_server, pki, ambiguous)
    assert (
        "exactly one" in unauthenticated(await mint(port, client_credentials(pki, pair)))["message"]
    )
    port = await mtls(start_server, pki, write_policy('[callers."dns:b.example.org"]\n'))
    assert isinstance(await mint(port, client_credentials(pki, pair)), ts.Token)


# --- namespaces ------------------------------------------------------------------------------


async def test_a_proxy_asserted_non_spiffe_uri_is_refused(
    start_server: StartServer, write_policy: WritePolicy
) -> None:
    """XFCC `URI=transcriber` from a trusted proxy is not a SPIFFE id: it can never be
    the bearer caller `transcriber`."""
    policy = write_policy(f'[callers.transcriber]\ncredentials = ["{hash_secret(SECRET)}"]\n')
    running = await start_server(
        security=SecuritySettings(trusted_proxies=("127.0.0.1",), policy_file=policy)
    )
    header = (("x-forwarded-client-cert", "Hash=ab;URI=transcriber"),)
    refused = unauthenticated(await mint(running.port, None, header))
    assert "not a SPIFFE id" in refused["message"]


async def test_a_custom_header_value_is_a_proxy_identity_not_a_bearer_caller(
    start_server: StartServer, write_policy: WritePolicy
) -> None:
    """`x-client-id: transcriber` is `proxy:transcriber`, which a bare (bearer) entry of
    the same name does not admit; a `proxy:` entry does."""
    policy = write_policy(f'[callers.transcriber]\ncredentials = ["{hash_secret(SECRET)}"]\n')
    settings = SecuritySettings(
        trusted_proxies=("127.0.0.1",), identity_header="x-client-id", policy_file=policy
    )
    running = await start_server(security=settings)
    refused = unauthenticated(await mint(running.port, None, (("x-client-id", "transcriber"),)))
    assert "proxy:transcriber" in refused["message"]
    write_policy('[callers."proxy:transcriber"]\n')
    await running.reload()
    assert isinstance(await mint(running.port, None, (("x-client-id", "transcriber"),)), ts.Token)


def test_policy_entries_say_which_kind_they_accept() -> None:
    """Entry names are namespaced; a bare name is a bearer caller (the old format)."""
    policy = parse_policy(
        f'[callers.a]\n[callers."bearer:b"]\n[callers."DNS:X.example"]\n[callers."{SPIFFE_ID}"]\n'
        '[callers."proxy:p"]\n[callers.anonymous]\n'
    )
    assert set(policy.callers) == {
        "bearer:a", "bearer:b", "dns:x.example", SPIFFE_ID, "proxy:p", "anonymous"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f'[callers."{SPIFFE_ID}"]\ncredentials = ["{hash_secret(SECRET)}"]\n', "bearer caller"),
        ('[callers."ldap:someone"]\n', "unknown kind"),
        ('[callers."spiffe://Example.org/x"]\n', "not a valid SPIFFE id"),
        ('[callers.a]\n[callers."bearer:a"]\n', "same caller as another entry"),
    ],
    ids=["credentials-on-spiffe", "unknown-kind", "bad-spiffe", "duplicate"],
)
def test_policy_entries_of_the_wrong_kind_are_refused(text: str, message: str) -> None:
    """Credentials only on bearer entries; unknown kinds and bad SPIFFE ids are mistakes."""
    with pytest.raises(PolicyError, match=message):
        parse_policy(text)


# --- conflicting credentials -----------------------------------------------------------------


CONFLICT_POLICY = f"""
[callers."{SPIFFE_ID}"]
[callers.batch]
credentials = ["{hash_secret(SECRET)}"]
"""


async def test_a_certificate_for_one_caller_and_a_bearer_for_another_is_refused(
    start_server: StartServer, pki: PKI, write_policy: WritePolicy, tmp_path: pathlib.Path
) -> None:
    """Certificate A + bearer B: UNAUTHENTICATED with ErrorInfo, and the audit record
    names both."""
    audit = tmp_path / "audit.jsonl"
    port = await mtls(start_server, pki, write_policy(CONFLICT_POLICY), audit_log=audit)
    refused = unauthenticated(await mint(port, client_credentials(pki, pki.spiffe_client), BEARER))
    assert refused["conflict"] == "mtls"
    (record,) = [r for r in map(json.loads, audit.read_text().splitlines()) if "decision" in r]
    assert (record["decision"], record["caller"], record["also"]) == (
        "deny",
        "bearer:batch",
        SPIFFE_ID,
    )


async def test_a_bearer_under_a_certificate_that_is_no_caller_is_the_bearer_caller(
    start_server: StartServer, pki: PKI, write_policy: WritePolicy, tmp_path: pathlib.Path
) -> None:
    """A workload certificate the policy does not admit identifies nobody: the bearer
    caller mints, and the certificate's identity is recorded beside it."""
    audit = tmp_path / "audit.jsonl"
    port = await mtls(start_server, pki, write_policy(CONFLICT_POLICY), audit_log=audit)
    token = await mint(port, client_credentials(pki, pki.unknown_client), BEARER)
    assert isinstance(token, ts.Token)
    record = json.loads(audit.read_text().splitlines()[-1])
    assert (record["decision"], record["caller"]) == ("allow", "bearer:batch")
    assert record["also"] == "spiffe://example.org/ns/web/sa/stranger"


@pytest.mark.parametrize("proxies", [(), ("10.0.0.7",)], ids=["no-proxy", "other-proxy"])
@pytest.mark.parametrize("with_bearer", [False, True], ids=["header", "header+bearer"])
async def test_a_forwarded_header_from_an_untrusted_peer_is_refused(
    start_server: StartServer,
    write_policy: WritePolicy,
    proxies: tuple[str, ...],
    with_bearer: bool,
) -> None:
    """XFCC from a peer that is not a trusted proxy: UNAUTHENTICATED, bearer or not."""
    policy = write_policy(CONFLICT_POLICY)
    running = await start_server(
        security=SecuritySettings(trusted_proxies=proxies, policy_file=policy)
    )
    metadata = (("x-forwarded-client-cert", f"URI={SPIFFE_ID}"),) + (BEARER if with_bearer else ())
    refused = unauthenticated(await mint(running.port, None, metadata))
    assert "trusted proxy" in refused["message"]


# --- trusted-proxy ranges --------------------------------------------------------------------


FINGERPRINT = Fingerprinter(b"k")


@pytest.mark.parametrize("network", ["0.0.0.0/0", "::/0", "10.0.0.0/7", "2001:db8::/31"])
def test_absurdly_wide_proxy_ranges_are_refused(network: str) -> None:
    """Prefixes shorter than /8 (IPv4) or /32 (IPv6) are refused, naming the flag."""
    with pytest.raises(SettingsError, match="--insecure-trust-wide-proxy-ranges"):
        build_security(
            "127.0.0.1:0", SecuritySettings(trusted_proxies=(network,)), fingerprint=FINGERPRINT
        )


def test_a_wide_range_is_accepted_only_when_forced_and_then_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """--insecure-trust-wide-proxy-ranges accepts /0 with an INSECURE warning."""
    settings = SecuritySettings(trusted_proxies=("0.0.0.0/0",), trust_wide_proxy_ranges=True)
    with caplog.at_level(logging.WARNING):
        build_security("127.0.0.1:0", settings, fingerprint=FINGERPRINT)
    assert any(
        "INSECURE" in r.getMessage() and "0.0.0.0/0" in r.getMessage() for r in caplog.records
    )


def test_public_proxy_ranges_are_warned_about_private_ones_are_not(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A public range warns; loopback and private ranges do not."""
    with caplog.at_level(logging.WARNING):
        build_security(
            "127.0.0.1:0",
            SecuritySettings(trusted_proxies=("127.0.0.1", "10.0.0.0/8", "fd00::/48")),
            fingerprint=FINGERPRINT,
        )
    assert not [r for r in caplog.records if "--trusted-proxy" in r.getMessage()]
    with caplog.at_level(logging.WARNING):
        build_security(
            "127.0.0.1:0",
            SecuritySettings(trusted_proxies=("8.8.0.0/16",)),
            fingerprint=FINGERPRINT,
        )
    assert any("outside loopback and private" in r.getMessage() for r in caplog.records)


def test_the_serve_command_refuses_a_zero_prefix_proxy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`livetokens serve --trusted-proxy 0.0.0.0/0` exits 2 naming the forcing flag."""
    monkeypatch.setenv("GEMINI_API_KEY", "not-used-0123456789")
    code = main(["serve", "--listen", "127.0.0.1:0", "--trusted-proxy", "0.0.0.0/0"])
    assert code == 2
    assert "--insecure-trust-wide-proxy-ranges" in capsys.readouterr().err
