"""Authenticator: bearer secrets, trusted-proxy headers, certificate SANs, anonymous."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from livetokens.server.errors import Reason
from livetokens.server.fingerprint import Fingerprinter
from livetokens.server.security.identity import (
    Authenticator,
    CallInfo,
    Identity,
    Unauthenticated,
    certificate_identities,
    peer_ip,
    xfcc_identities,
)
from livetokens.server.security.policy import Policy, hash_secret, parse_policy

SECRET = "s3cr3t-bearer-value-with-enough-entropy-0123456789"
OTHER_SECRET = "another-secret-that-is-not-configured-9876543210"

POLICY = f"""
[callers.billing]
credentials = ["{hash_secret(SECRET)}"]

[callers."spiffe://example.org/ns/web/sa/frontend"]

[callers."dns:api.example.org"]
"""


def authenticator(
    policy: Policy | None = None,
    *,
    proxies: Sequence[str] = (),
    header: str = "x-forwarded-client-cert",
    anonymous: bool = False,
) -> Authenticator:
    chosen = policy or parse_policy(POLICY)
    return Authenticator(
        lambda: chosen,
        trusted_proxies=proxies,
        identity_header=header,
        allow_anonymous=anonymous,
        fingerprint=Fingerprinter(b"k"),
    )


def call(
    metadata: Sequence[tuple[str, str | bytes]] = (),
    auth: Mapping[str, Sequence[bytes]] | None = None,
    peer: str = "ipv4:127.0.0.1:40000",
) -> CallInfo:
    return CallInfo(peer=peer, auth_context=auth or {}, metadata=metadata)


def refused(auth: Authenticator, info: CallInfo) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        auth.authenticate(info)
    assert caught.value.reason is Reason.UNAUTHENTICATED
    return caught.value


def test_a_configured_bearer_secret_names_its_caller() -> None:
    """`authorization: Bearer <secret>` whose SHA-256 is in the policy → that caller."""
    identity = authenticator().authenticate(call([("authorization", f"Bearer {SECRET}")]))
    assert (identity.caller, identity.method) == ("bearer:billing", "bearer")
    # The credential label is a prefix of the stored hash, never the secret.
    assert identity.credential == hash_secret(SECRET)[:19]
    assert SECRET not in repr(identity)


def test_the_bearer_scheme_is_case_insensitive() -> None:
    """`bearer` and `BEARER` work like `Bearer` (RFC 6750 schemes are case-insensitive)."""
    identity = authenticator().authenticate(call([("authorization", f"bEaReR {SECRET}")]))
    assert identity.caller == "bearer:billing"


@pytest.mark.parametrize(
    "value",
    [f"Bearer {OTHER_SECRET}", "Bearer ", "Basic dXNlcjpwYXNz", SECRET],
    ids=["unknown-secret", "empty", "basic", "no-scheme"],
)
def test_a_bad_bearer_credential_is_unauthenticated(value: str) -> None:
    """Unknown secrets and malformed headers are refused, and the secret is not echoed."""
    failure = refused(authenticator(), call([("authorization", value)]))
    assert failure.presented.method == "bearer"
    assert OTHER_SECRET not in failure.message
    assert OTHER_SECRET not in repr(failure.presented)


def test_an_unknown_bearer_secret_is_labelled_by_an_hmac() -> None:
    """The refused secret is recorded only as an HMAC fingerprint (salted, Vault-style)."""
    failure = refused(authenticator(), call([("authorization", f"Bearer {OTHER_SECRET}")]))
    assert failure.presented.credential == Fingerprinter(b"k")(OTHER_SECRET)
    assert failure.presented.credential.startswith("hmac-sha256:")


def test_two_authorization_entries_are_refused() -> None:
    """Two `authorization` entries are ambiguous: refused, not the first one taken."""
    metadata = [("authorization", f"Bearer {SECRET}"), ("authorization", f"Bearer {SECRET}")]
    refused(authenticator(), call(metadata))


def test_an_invalid_bearer_does_not_fall_back_to_the_certificate() -> None:
    """A present but invalid credential refuses the call even with a valid certificate."""
    auth = {
        "x509_pem_cert": [b"pem"],
        "peer_spiffe_id": [b"spiffe://example.org/ns/web/sa/frontend"],
    }
    refused(authenticator(), call([("authorization", "Bearer nope")], auth))


def test_no_credentials_are_unauthenticated_unless_anonymous_is_allowed() -> None:
    """No credential at all → UNAUTHENTICATED; with insecure_no_auth → `anonymous`."""
    failure = refused(authenticator(), call())
    assert failure.presented.method == "none"
    policy = parse_policy('[callers."*"]\n')
    identity = authenticator(policy, anonymous=True).authenticate(call())
    assert (identity.caller, identity.method) == ("anonymous", "none")


def test_anonymous_needs_a_policy_entry_when_a_policy_is_loaded() -> None:
    """With a policy naming neither `anonymous` nor `*`, anonymous callers are refused."""
    refused(authenticator(anonymous=True), call())


def test_certificate_spiffe_id_names_the_caller() -> None:
    """The verified SPIFFE URI SAN is the caller id."""
    auth = {
        "x509_pem_cert": [b"pem"],
        "peer_spiffe_id": [b"spiffe://example.org/ns/web/sa/frontend"],
        "peer_dns": [b"other.example.org"],
    }
    identity = authenticator().authenticate(call(auth=auth))
    assert (identity.caller, identity.method) == ("spiffe://example.org/ns/web/sa/frontend", "mtls")


def test_certificate_dns_san_names_the_caller_with_a_prefix() -> None:
    """A DNS SAN becomes `dns:<name>`, the first one the policy knows."""
    auth = {"x509_pem_cert": [b"pem"], "peer_dns": [b"unknown.example.org", b"API.example.org"]}
    identity = authenticator().authenticate(call(auth=auth))
    assert identity.caller == "dns:api.example.org"


def test_a_certificate_identity_outside_the_policy_is_unauthenticated() -> None:
    """A valid certificate whose identities the policy does not name is refused."""
    auth = {"x509_pem_cert": [b"pem"], "peer_spiffe_id": [b"spiffe://example.org/x"]}
    failure = refused(authenticator(), call(auth=auth))
    assert failure.presented.caller == "spiffe://example.org/x"
    assert "spiffe://example.org/x" in failure.message


def test_a_wildcard_entry_admits_any_certificate_identity() -> None:
    """`[callers."*"]` admits identities that are not named, under their own id."""
    policy = parse_policy('[callers."*"]\nmax_uses = 1\n')
    auth = {"x509_pem_cert": [b"pem"], "peer_uri": [b"spiffe://example.org/x"]}
    assert authenticator(policy).authenticate(call(auth=auth)).caller == "spiffe://example.org/x"


def test_a_certificate_without_usable_sans_is_unauthenticated() -> None:
    """Only SPIFFE URIs and DNS names identify callers; a CN alone does not."""
    auth = {"x509_pem_cert": [b"pem"], "x509_common_name": [b"frontend"]}
    refused(authenticator(parse_policy('[callers."*"]\n')), call(auth=auth))


XFCC = (
    'By=spiffe://example.org/ns/lt/sa/livetokens;Hash=abc;Subject="CN=frontend, O=Example";'
    "URI=spiffe://example.org/ns/web/sa/frontend;DNS=frontend.example.org"
)


def test_the_proxy_header_is_trusted_from_a_trusted_proxy() -> None:
    """XFCC from a configured proxy address names the caller by its URI."""
    auth = authenticator(proxies=["127.0.0.1/32"])
    identity = auth.authenticate(call([("x-forwarded-client-cert", XFCC)]))
    assert (identity.caller, identity.method) == (
        "spiffe://example.org/ns/web/sa/frontend",
        "proxy",
    )


def test_the_proxy_header_from_another_peer_is_refused() -> None:
    """The same header from an address that is not a trusted proxy is refused."""
    auth = authenticator(proxies=["10.0.0.7"])
    failure = refused(auth, call([("x-forwarded-client-cert", XFCC)]))
    assert failure.presented.method == "proxy"


def test_the_proxy_header_is_ignored_when_no_proxy_is_configured() -> None:
    """Without trusted proxies the header means nothing: it cannot make a caller."""
    refused(authenticator(), call([("x-forwarded-client-cert", XFCC)]))


def test_a_configured_header_name_carries_a_namespaced_identity() -> None:
    """Another header than XFCC holds the caller id: a SPIFFE id or dns: name as it is,
    anything else as proxy:<value>, so it can never be a bearer caller."""
    policy = parse_policy(POLICY + '[callers."proxy:billing"]\n')
    auth = authenticator(policy, proxies=["127.0.0.0/8", "::1"], header="x-client-id")
    identity = auth.authenticate(call([("x-client-id", "dns:api.example.org")]))
    assert identity.caller == "dns:api.example.org"
    ipv6 = auth.authenticate(call([("x-client-id", "billing")], peer="ipv6:[::1]:5000"))
    assert ipv6.caller == "proxy:billing"


def test_xfcc_takes_the_last_element_and_handles_quotes() -> None:
    """Envoy appends one element per hop; the last is the client our sidecar saw."""
    header = (
        'URI=spiffe://a/first;Subject="CN=x, O=\\"y\\""'
        ',Hash=1;Subject="O=a,b;c";URI=spiffe://b/last;DNS=Last.Example.org'
    )
    assert xfcc_identities(header) == ["spiffe://b/last"]
    assert xfcc_identities("Hash=1;DNS=A.example;DNS=b.example") == [
        "dns:a.example",
        "dns:b.example",
    ]
    assert xfcc_identities("") == []


def test_peer_ip_parses_grpc_peer_strings() -> None:
    """ipv4/ipv6 peers give addresses; unix sockets and garbage give None."""
    assert str(peer_ip("ipv4:10.1.2.3:5555")) == "10.1.2.3"
    assert str(peer_ip("ipv6:[::1]:5555")) == "::1"
    assert str(peer_ip("ipv6:%5B::1%5D:5555")) == "::1"
    assert peer_ip("unix:/tmp/sock") is None
    assert peer_ip("ipv4:nonsense:1") is None


def test_certificate_identities_a_spiffe_id_excludes_dns_names() -> None:
    """An SVID's one SPIFFE URI is the only candidate; DNS SANs only without one; a
    SPIFFE URI beside another URI SAN is not a valid SVID."""
    ids = certificate_identities({"peer_uri": [b"spiffe://td/x"], "peer_dns": [b"a.example"]})
    assert ids == ["spiffe://td/x"]
    assert certificate_identities({"peer_dns": [b"A.example"]}) == ["dns:a.example"]
    with pytest.raises(ValueError, match="exactly one"):
        certificate_identities({"peer_uri": [b"https://not-spiffe", b"spiffe://td/x"]})


def test_identity_repr_holds_no_secret() -> None:
    """Identity is safe to log: it holds labels, not credentials."""
    assert "secret" not in repr(Identity("billing", "bearer", "ipv4:1.2.3.4:5", "sha256:abc"))
