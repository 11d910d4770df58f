"""Who is calling: a client certificate, a bearer secret, or a trusted proxy's header.

:class:`Authenticator` turns what gRPC knows about a call (peer address, TLS auth
context, request metadata) into an :class:`Identity`, or raises
:class:`Unauthenticated`. The methods, in the order they are tried:

1. ``authorization: Bearer <secret>``: the caller whose policy entry lists
   ``sha256:<hex>`` of the secret (compared in constant time);
2. the identity header (Envoy's ``x-forwarded-client-cert`` or a configured name),
   only when proxies are configured and only from a trusted proxy address;
3. the verified client certificate (mutual TLS): its SPIFFE URI SAN, else a DNS SAN
   (as ``dns:<name>``);
4. nothing: ``anonymous``, only when the server runs with ``insecure_no_auth``.

A credential that is present but not valid is refused; it never falls through to
the next method. An identity the policy does not know is refused too.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence

from livetokens.server.errors import Failure, Reason
from livetokens.server.security.policy import Policy

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


class Unauthenticated(Failure):
    """UNAUTHENTICATED, remembering what the caller presented (for the audit record)."""

    def __init__(self, message: str, presented: Identity) -> None:
        super().__init__(Reason.UNAUTHENTICATED, message, metadata={"method": presented.method})
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


def xfcc_identities(header: str) -> list[str]:
    """Candidate caller ids from an Envoy ``x-forwarded-client-cert`` header.

    Envoy appends one comma-separated element per hop; the last one is the client
    the proxy next to livetokens saw. Its ``URI=`` values (SPIFFE ids) come first,
    then its ``DNS=`` values as ``dns:<name>``.
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
    return uris + names


def certificate_identities(auth_context: Mapping[str, Sequence[bytes]]) -> list[str]:
    """Candidate caller ids from a verified client certificate in a gRPC auth context.

    grpcio exposes the SANs it verified: ``peer_spiffe_id`` (set when the certificate
    has exactly one valid SPIFFE id), ``peer_uri`` and ``peer_dns``.
    """
    uris = [v.decode("utf-8", "replace") for v in auth_context.get("peer_spiffe_id", ())]
    if not uris:
        uris = [
            v.decode("utf-8", "replace")
            for v in auth_context.get("peer_uri", ())
            if v.lower().startswith(b"spiffe://")
        ]
    names = [
        f"dns:{v.decode('utf-8', 'replace').lower()}" for v in auth_context.get("peer_dns", ())
    ]
    return uris + names


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
        if authorization:
            return self._bearer(call, policy, authorization)
        if self._proxies:
            values = [v for k, v in call.metadata if k.lower() == self._header]
            if values:
                return self._proxied(call, policy, values)
        if _has_certificate(call.auth_context):
            return self._certificate(call, policy)
        if self._allow_anonymous:
            return self._known(policy, [ANONYMOUS], Identity(ANONYMOUS, NONE, call.peer))
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

    def _proxied(self, call: CallInfo, policy: Policy, values: Sequence[str | bytes]) -> Identity:
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
        candidates = xfcc_identities(value) if self._header == XFCC else [value]
        if not candidates or not all(c.isprintable() and c for c in candidates):
            raise Unauthenticated(f"The '{self._header}' header names no usable identity.", refused)
        return self._known(policy, candidates, refused)

    def _certificate(self, call: CallInfo, policy: Policy) -> Identity:
        candidates = certificate_identities(call.auth_context)
        refused = Identity("-", MTLS, call.peer)
        if not candidates:
            raise Unauthenticated(
                "The client certificate has no SPIFFE URI or DNS subject alternative name.",
                refused,
            )
        return self._known(policy, candidates, refused)

    def _known(self, policy: Policy, candidates: Sequence[str], presented: Identity) -> Identity:
        """The first candidate the policy names, else the first one if the policy has a
        ``*`` entry; otherwise Unauthenticated."""
        for candidate in candidates:
            if policy.names(candidate):
                return dataclasses.replace(presented, caller=candidate)
        if policy.has_wildcard:
            return dataclasses.replace(presented, caller=candidates[0])
        shown = candidates[0][:MAX_IDENTITY]
        raise Unauthenticated(
            f"The identity {shown!r} is not a livetokens caller (not in the policy).",
            dataclasses.replace(presented, caller=shown),
        )
