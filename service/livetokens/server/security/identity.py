"""Who is calling: a client certificate, a bearer secret, or a trusted proxy's header.

:class:`Authenticator` turns what gRPC knows about a call (peer address, TLS auth
context, request metadata) into an :class:`Identity`, or raises
:class:`Unauthenticated`. Caller ids are namespaced by how they were proven, so two
methods can never produce the same id (docs/security.md, "How a caller is identified"):

- ``spiffe://…``: the one URI SAN of a verified SVID (mutual TLS), or the one
  ``URI=`` SPIFFE id of a trusted proxy's XFCC header. A SPIFFE id wins over DNS names;
  a certificate with a SPIFFE URI and any other URI SAN is not a valid SVID: refused.
- ``dns:<name>``: a DNS SAN (certificate or XFCC ``DNS=``) when there is no SPIFFE id;
  several that the policy names are ambiguous: refused.
- ``bearer:<name>``: the policy entry whose ``credentials`` hold the secret's SHA-256.
- ``proxy:<value>``: the value of a custom identity header that is not a SPIFFE id
  or a ``dns:`` name.
- ``anonymous``: no credentials, only with ``insecure_no_auth``.

A credential that is present but not valid is refused; it never falls through to
another method. The identity header from a peer that is not a trusted proxy is
refused, with or without other credentials. A bearer secret together with a
certificate or header whose identity the policy admits is a conflict: refused. An
identity the policy does not know is refused too.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence

from livetokens.server.errors import Failure, Reason
from livetokens.server.security.policy import SPIFFE_ID, Policy

ANONYMOUS = "anonymous"
XFCC = "x-forwarded-client-cert"
MAX_IDENTITY = 2048

MTLS = "mtls"
BEARER = "bearer"
PROXY = "proxy"
NONE = "none"


@dataclasses.dataclass(frozen=True)
class Identity:
    """An authenticated caller.

    ``caller`` is the id the policy, the rate limiter and the idempotency cache key on;
    ``method`` how it was established; ``peer`` the gRPC peer address; ``credential``
    a non-secret label of the credential used (never the credential itself).
    """

    caller: str
    method: str = "internal"
    peer: str = ""
    credential: str = ""
    # Another credential presented with the one that identified the caller, whose
    # identity is not a caller in the policy (e.g. a workload certificate under a
    # bearer secret): recorded, never used.
    also: str = ""


class Unauthenticated(Failure):
    """UNAUTHENTICATED, remembering what the caller presented (for the audit record)."""

    def __init__(self, message: str, presented: Identity, *, conflict: str | None = None) -> None:
        metadata = {"method": presented.method}
        if conflict is not None:
            metadata["conflict"] = conflict
        super().__init__(Reason.UNAUTHENTICATED, message, metadata=metadata)
        self.presented = presented


@dataclasses.dataclass(frozen=True)
class CallInfo:
    """What gRPC knows about one call, without gRPC types."""

    peer: str
    auth_context: Mapping[str, Sequence[bytes]]
    metadata: Sequence[tuple[str, str | bytes]]


def peer_ip(peer: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address in a gRPC peer string (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``)."""
    kind, _, rest = urllib.parse.unquote(peer).partition(":")
    if kind not in ("ipv4", "ipv6"):
        return None
    host = rest.rpartition(":")[0].strip("[]")
    try:
        return ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None


def parse_networks(
    items: Iterable[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses or CIDR ranges as networks; raises ValueError naming a bad one."""
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR range: {item!r}") from None
    return tuple(networks)


def _split_unquoted(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside double quotes (backslash escapes inside them)."""
    parts, current, quoted, escaped = [], [], False, False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\" and quoted:
            current.append(ch)
            escaped = True
        elif ch == '"':
            quoted = not quoted
            current.append(ch)
        elif ch == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


@dataclasses.dataclass(frozen=True)
class Proof:
    """What a certificate or a proxy header proves: candidate ids of one kind."""

    candidates: tuple[str, ...]
    presented: Identity
    source: str  # "certificate" or "header", for messages


def _spiffe(value: str, where: str, refused: Identity) -> str:
    if not SPIFFE_ID.match(value):
        raise Unauthenticated(f"The {where} {value[:200]!r} is not a valid SPIFFE id.", refused)
    return value


def xfcc_identities(header: str) -> list[str]:
    """Candidate caller ids from an Envoy ``x-forwarded-client-cert`` header.

    Envoy appends one comma-separated element per hop; the last one is the client
    the proxy next to livetokens saw. Its one ``URI=`` (a SPIFFE id) is the identity;
    without one, its ``DNS=`` values as ``dns:<name>``. Raises ValueError when the
    element has several ``URI=`` values or one that is not a SPIFFE id.
    """
    elements = [e for e in _split_unquoted(header, ",") if e.strip()]
    if not elements:
        return []
    uris, names = [], []
    for pair in _split_unquoted(elements[-1], ";"):
        key, sep, value = pair.partition("=")
        if not sep:
            continue
        key, value = key.strip().lower(), _unquote(value)
        if key == "uri" and value:
            uris.append(value)
        elif key == "dns" and value:
            names.append(f"dns:{value.lower()}")
    if uris:
        if len(uris) != 1:
            raise ValueError(f"names {len(uris)} URIs; a SPIFFE identity has exactly one")
        if not SPIFFE_ID.match(uris[0]):
            raise ValueError(f"URI {uris[0][:200]!r} is not a SPIFFE id")
        return uris
    return names


def certificate_identities(auth_context: Mapping[str, Sequence[bytes]]) -> list[str]:
    """Candidate caller ids from a verified client certificate in a gRPC auth context.

    A certificate with a ``spiffe://`` URI SAN is an SVID: it must have exactly one URI
    SAN, a valid SPIFFE id, which is then the only candidate (its DNS SANs are not).
    Otherwise the DNS SANs, as ``dns:<name>``. Raises ValueError for an invalid SVID.
    """
    uris = [v.decode("utf-8", "replace") for v in auth_context.get("peer_uri", ())]
    spiffe = [v.decode("utf-8", "replace") for v in auth_context.get("peer_spiffe_id", ())]
    if spiffe or any(u.lower().startswith("spiffe://") for u in uris):
        if len(uris) > 1 or len(spiffe) > 1:
            raise ValueError(
                f"has {max(len(uris), len(spiffe))} URI SANs; a SPIFFE certificate (SVID) "
                "must have exactly one"
            )
        value = (spiffe or uris)[0]
        if not SPIFFE_ID.match(value) or (spiffe and uris and spiffe[0] != uris[0]):
            raise ValueError(f"URI SAN {value[:200]!r} is not a valid SPIFFE id")
        return [value]
    return [f"dns:{v.decode('utf-8', 'replace').lower()}" for v in auth_context.get("peer_dns", ())]


def header_identity(value: str) -> str:
    """The caller id a custom identity header asserts: a SPIFFE id or ``dns:<name>`` as
    it is, anything else as ``proxy:<value>`` (never a bearer or anonymous caller)."""
    if value.lower().startswith("spiffe://"):
        if not SPIFFE_ID.match(value):
            raise ValueError(f"{value[:200]!r} is not a valid SPIFFE id")
        return value
    if value.lower().startswith("dns:") and len(value) > 4:
        return "dns:" + value[4:].lower()
    return f"proxy:{value}"


def _has_certificate(auth_context: Mapping[str, Sequence[bytes]]) -> bool:
    return bool(auth_context.get("x509_pem_cert")) or bool(
        auth_context.get("x509_subject_alternative_name")
    )


class Authenticator:
    """Establishes the caller of each RPC under the current policy."""

    def __init__(
        self,
        policy: Callable[[], Policy],
        *,
        trusted_proxies: Sequence[str] = (),
        identity_header: str = XFCC,
        allow_anonymous: bool = False,
        fingerprint: Callable[[str], str],
    ) -> None:
        """``policy`` returns the policy in force (it changes on reload);
        ``fingerprint`` labels refused bearer secrets in audit records (an HMAC)."""
        self._policy = policy
        self._proxies = parse_networks(trusted_proxies)
        self._header = identity_header.lower()
        self._allow_anonymous = allow_anonymous
        self._fingerprint = fingerprint

    def authenticate(self, call: CallInfo) -> Identity:
        """The caller's Identity; raises :class:`Unauthenticated` when there is none."""
        policy = self._policy()
        authorization = [v for k, v in call.metadata if k.lower() == "authorization"]
        header = [v for k, v in call.metadata if k.lower() == self._header]
        proof: Proof | None = None
        if header:
            proof = self._proxied(call, header)
        elif _has_certificate(call.auth_context):
            proof = self._certificate(call)
        if authorization:
            bearer = self._bearer(call, policy, authorization)
            if proof is None:
                return bearer
            other = self._admit(policy, proof) if proof.candidates else None
            if other is not None:
                raise Unauthenticated(
                    f"Conflicting credentials: the bearer secret names {bearer.caller!r} but "
                    f"the {proof.source} names {other.caller!r}; send one of them.",
                    dataclasses.replace(bearer, also=other.caller),
                    conflict=proof.presented.method,
                )
            return dataclasses.replace(bearer, also=",".join(proof.candidates)[:MAX_IDENTITY])
        if proof is not None:
            if not proof.candidates:
                raise Unauthenticated(
                    "The client certificate has no SPIFFE URI or DNS subject alternative name.",
                    proof.presented,
                )
            admitted = self._admit(policy, proof)
            if admitted is None:
                shown = proof.candidates[0][:MAX_IDENTITY]
                raise Unauthenticated(
                    f"The identity {shown!r} is not a livetokens caller (not in the policy).",
                    dataclasses.replace(proof.presented, caller=shown),
                )
            return admitted
        if self._allow_anonymous:
            anonymous = Identity(ANONYMOUS, NONE, call.peer)
            admitted = self._admit(policy, Proof((ANONYMOUS,), anonymous, "call"))
            if admitted is None:
                raise Unauthenticated(
                    f"The identity {ANONYMOUS!r} is not a livetokens caller (not in the policy).",
                    anonymous,
                )
            return admitted
        raise Unauthenticated(
            "No caller credentials: present a client certificate (mutual TLS) or "
            "'authorization: Bearer <secret>' metadata.",
            Identity("-", NONE, call.peer),
        )

    def _bearer(self, call: CallInfo, policy: Policy, values: Sequence[str | bytes]) -> Identity:
        refused = Identity("-", BEARER, call.peer)
        if len(values) != 1 or not isinstance(values[0], str):
            raise Unauthenticated("Send exactly one 'authorization' metadata entry.", refused)
        scheme, _, secret = values[0].strip().partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise Unauthenticated(
                "The 'authorization' metadata must be 'Bearer <secret>'.", refused
            )
        match = policy.caller_for_secret(secret)
        if match is None:
            raise Unauthenticated(
                "The bearer credential is not valid.",
                dataclasses.replace(refused, credential=self._fingerprint(secret)),
            )
        caller, digest = match
        # A prefix of the stored hash tells the operator which credential was used
        # (for rotation) without adding anything the configuration does not hold.
        return Identity(caller, BEARER, call.peer, credential=digest[: len("sha256:") + 12])

    def _proxied(self, call: CallInfo, values: Sequence[str | bytes]) -> Proof:
        address = peer_ip(call.peer)
        refused = Identity("-", PROXY, call.peer)
        if address is None or not any(address in net for net in self._proxies):
            raise Unauthenticated(
                f"The '{self._header}' identity header is only accepted from a trusted proxy.",
                refused,
            )
        if len(values) != 1 or not isinstance(values[0], str) or len(values[0]) > MAX_IDENTITY:
            raise Unauthenticated(f"Send exactly one short '{self._header}' header.", refused)
        value = values[0].strip()
        try:
            candidates = (
                xfcc_identities(value) if self._header == XFCC else [header_identity(value)]
            )
        except ValueError as exc:
            raise Unauthenticated(f"The '{self._header}' header {exc}.", refused) from None
        if not candidates or not all(c.isprintable() and c for c in candidates):
            raise Unauthenticated(f"The '{self._header}' header names no usable identity.", refused)
        return Proof(tuple(candidates), refused, f"'{self._header}' header")

    def _certificate(self, call: CallInfo) -> Proof:
        refused = Identity("-", MTLS, call.peer)
        try:
            candidates = certificate_identities(call.auth_context)
        except ValueError as exc:
            raise Unauthenticated(f"The client certificate {exc}.", refused) from None
        return Proof(tuple(candidates), refused, "client certificate")

    def _admit(self, policy: Policy, proof: Proof) -> Identity | None:
        """The one candidate the policy names, else the first one if the policy has a
        ``*`` entry, else None. Several named candidates are ambiguous: refused."""
        named = [c for c in dict.fromkeys(proof.candidates) if policy.names(c)]
        if len(named) > 1:
            raise Unauthenticated(
                f"The {proof.source} names several callers of the policy "
                f"({', '.join(n[:200] for n in named[:4])}); it must name exactly one.",
                proof.presented,
            )
        if named:
            return dataclasses.replace(proof.presented, caller=named[0])
        if policy.has_wildcard:
            return dataclasses.replace(proof.presented, caller=proof.candidates[0])
        return None
