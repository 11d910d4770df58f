"""The security pieces assembled from :class:`SecuritySettings`, with start-up checks."""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.metadata
import ipaddress
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import grpc

from livetokens.server import translate as tr
from livetokens.server.security.audit import AuditLog
from livetokens.server.security.audit_chain import derive_key
from livetokens.server.security.identity import Authenticator, parse_networks
from livetokens.server.security.policy import PolicyError, PolicyStore
from livetokens.server.security.ratelimit import RateLimiter
from livetokens.server.security.tls import RotatingCredentials, TLSError
from livetokens.server.settings import SecuritySettings, SettingsError

log = logging.getLogger(__name__)


def is_loopback(listen: str) -> bool:
    """Whether the HOST of ``HOST:PORT`` is a loopback address (or ``localhost``)."""
    host = listen.rpartition(":")[0].strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclasses.dataclass
class Security:
    """Everything the server needs to know who calls and to record what it decided."""

    settings: SecuritySettings
    policies: PolicyStore
    authenticator: Authenticator
    rate_limiter: RateLimiter
    audit: AuditLog | None
    tls: RotatingCredentials | None
    methods: tuple[str, ...]

    def add_port(self, server: grpc.aio.Server, listen: str) -> int:
        """Bind ``listen`` with TLS when configured; raises SettingsError when it cannot."""
        try:
            if self.tls is not None:
                port = server.add_secure_port(listen, self.tls.credentials)
            else:
                port = server.add_insecure_port(listen)
        except RuntimeError:
            port = 0
        if port == 0:
            raise SettingsError(f"cannot listen on {listen}")
        return port

    def describe(self) -> str:
        """One line for the start-up log: transport, how callers authenticate, policy, audit."""
        if self.tls is None:
            transport = "PLAINTEXT"
        elif self.tls.mutual:
            transport = "TLS with client certificates (mutual TLS)"
        else:
            transport = "TLS"
        if self.settings.insecure_no_auth:
            auth = "NO caller authentication (--insecure-no-auth)"
            if len(self.methods) > 1:
                auth += f" besides {'+'.join(m for m in self.methods if m != 'none')}"
        else:
            auth = f"callers by {'+'.join(self.methods)}"
        policy = f"policy {self.policies.path}" if self.policies.path else "no policy file"
        audit = f"audit {self.audit.path}" if self.audit else "NO audit log"
        return f"{transport}, {auth}, {policy}, {audit}"

    async def reload(self) -> bool:
        """SIGHUP: re-read the policy (an invalid file keeps the old one, with an error
        in the log) and reopen the audit log. True when the policy was reloaded."""
        if self.audit is not None:
            self.audit.reopen()
        if self.policies.path is None:
            return False
        try:
            policy = await asyncio.to_thread(self.policies.reload)
        except PolicyError as exc:
            log.error("policy NOT reloaded, the previous one stays in force: %s", exc)
            self._record(
                {"type": "policy-reload", "ok": False, "error": str(exc)[:500],
                 "policy_sha256": self.policies.current().sha256}
            )  # fmt: skip
            return False
        log.info("policy reloaded from %s: %d caller entries", policy.source, len(policy.callers))
        self._record(
            {"type": "policy-reload", "ok": True, "policy_sha256": policy.sha256,
             "callers": len(policy.callers)}
        )  # fmt: skip
        return True

    def _record(self, record: Mapping[str, Any]) -> None:
        """Queue a configuration event (reload) in the audit log, without waiting."""
        if self.audit is not None:
            self.audit.submit({"time": tr.rfc3339(datetime.now(UTC)), **record})

    async def aclose(self) -> None:
        """Flush and close the audit log."""
        if self.audit is not None:
            await self.audit.aclose()


# Trusted-proxy ranges with a shorter prefix than these are refused unless forced: a
# /8 is already 16 million IPv4 addresses; an IPv6 /32 is a whole ISP allocation.
MIN_PROXY_PREFIX = {4: 8, 6: 32}


def check_proxy_ranges(items: tuple[str, ...], *, force_wide: bool) -> None:
    """Refuse absurdly wide trusted-proxy ranges (/0 included) unless ``force_wide``,
    and warn about ranges outside loopback and private networks."""
    try:
        networks = parse_networks(items)
    except ValueError as exc:
        raise SettingsError(f"--trusted-proxy: {exc}") from None
    for network in networks:
        minimum = MIN_PROXY_PREFIX[network.version]
        if network.prefixlen < minimum:
            if not force_wide:
                raise SettingsError(
                    f"--trusted-proxy {network}: a range wider than /{minimum} lets anyone in "
                    "it claim any identity through the identity header; name the proxies "
                    "(e.g. the sidecar's 127.0.0.1), or pass --insecure-trust-wide-proxy-ranges"
                )
            log.warning(
                "INSECURE: --trusted-proxy %s is wider than /%d and was forced with "
                "--insecure-trust-wide-proxy-ranges: every address in it may assert any caller",
                network,
                minimum,
            )
        elif not (network.is_loopback or network.is_private):
            log.warning(
                "--trusted-proxy %s is outside loopback and private networks: every address "
                "in it may assert any caller identity",
                network,
            )


def build_security(
    listen: str,
    settings: SecuritySettings,
    *,
    fingerprint: Callable[[str], str],
    fingerprint_key: bytes | None = None,
    summary: Mapping[str, Any] | None = None,
    rate_limiter: RateLimiter | None = None,
) -> Security:
    """Check the settings, load the policy and TLS files, open the audit log.

    ``fingerprint_key`` seeds the audit chain key when LIVETOKENS_AUDIT_KEY is unset;
    ``summary`` (no secrets) goes into the audit log's start anchor.

    Raises SettingsError with a message for the operator when something is wrong or
    when the combination would leave the server open by accident.
    """
    loopback = is_loopback(listen)
    if settings.insecure_no_auth and not loopback and not settings.insecure_allow_non_loopback:
        raise SettingsError(
            f"--insecure-no-auth lets anyone who reaches {listen} mint tokens; it is only "
            "allowed on a loopback address (e.g. 127.0.0.1:50051) unless "
            "--insecure-allow-non-loopback is given too"
        )
    if settings.tls_cert is None and not loopback and not settings.insecure_allow_non_loopback:
        raise SettingsError(
            f"{listen} is not a loopback address and TLS is not configured: give "
            "--tls-cert and --tls-key (and --tls-client-ca for mutual TLS), or pass "
            "--insecure-allow-non-loopback (e.g. behind a sidecar that terminates mTLS)"
        )
    check_proxy_ranges(settings.trusted_proxies, force_wide=settings.trust_wide_proxy_ranges)
    try:
        policies = PolicyStore(settings.policy_file)
    except PolicyError as exc:
        raise SettingsError(str(exc)) from None
    methods = []
    if settings.tls_client_ca is not None:
        methods.append("mtls")
    if any(p.credentials for p in policies.current().callers.values()):
        methods.append("bearer")
    if settings.trusted_proxies:
        methods.append("proxy")
    if settings.insecure_no_auth:
        methods.append("none")
    if not methods:
        raise SettingsError(
            "no way for callers to authenticate: configure mutual TLS (--tls-client-ca), "
            "bearer credentials in the policy file, a trusted proxy (--trusted-proxy), or "
            "--insecure-no-auth on a loopback address (development only)"
        )
    tls = None
    if settings.tls_cert is not None and settings.tls_key is not None:
        try:
            tls = RotatingCredentials(settings.tls_cert, settings.tls_key, settings.tls_client_ca)
        except TLSError as exc:
            raise SettingsError(str(exc)) from None
    audit = None
    if settings.audit_log is not None:
        audit = _open_audit(settings, policies, fingerprint_key, summary or {})
        if tls is not None:
            tls.on_reload = audit.submit
    authenticator = Authenticator(
        policies.current,
        trusted_proxies=settings.trusted_proxies,
        identity_header=settings.identity_header,
        allow_anonymous=settings.insecure_no_auth,
        fingerprint=fingerprint,
    )
    security = Security(
        settings,
        policies,
        authenticator,
        rate_limiter if rate_limiter is not None else RateLimiter(),
        audit,
        tls,
        tuple(methods),
    )
    _warn(listen, security)
    return security


def _version() -> str:
    try:
        return importlib.metadata.version("livetokens")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def settings_summary(settings: SecuritySettings) -> dict[str, Any]:
    """What the start anchor records of the security settings: no secrets, no keys."""
    return {
        "tls": settings.tls_cert is not None,
        "mutual_tls": settings.tls_client_ca is not None,
        "policy_file": str(settings.policy_file) if settings.policy_file else None,
        "trusted_proxies": list(settings.trusted_proxies),
        "trust_wide_proxy_ranges": settings.trust_wide_proxy_ranges,
        "identity_header": settings.identity_header,
        "insecure_no_auth": settings.insecure_no_auth,
        "insecure_allow_non_loopback": settings.insecure_allow_non_loopback,
        "audit_fsync": settings.audit_fsync,
        "audit_fail_open": settings.audit_fail_open,
        "emulator": settings.emulator,
    }


def _open_audit(
    settings: SecuritySettings,
    policies: PolicyStore,
    fingerprint_key: bytes | None,
    summary: Mapping[str, Any],
) -> AuditLog:
    assert settings.audit_log is not None
    audit_key = settings.audit_key.reveal().encode() if settings.audit_key else None
    key, source = derive_key(audit_key, fingerprint_key)
    audit = AuditLog(
        settings.audit_log,
        fsync=settings.audit_fsync,
        key=key or None,
        key_source=source,
        fail_open=settings.audit_fail_open,
    )
    anchor = {
        "version": _version(),
        "key_source": audit.key_source,
        "settings": {**summary, **settings_summary(settings)},
        "policy_sha256": policies.current().sha256 or None,
    }
    try:
        audit.open(anchor)
    except OSError as exc:
        raise SettingsError(
            f"audit log {settings.audit_log}: cannot open it ({exc.strerror or exc})"
        ) from None
    if audit.is_stream:
        log.info(
            "audit log %s is a stream: records are flushed, not fsync'd (docs/security.md)",
            settings.audit_log,
        )
    if audit.key_source == "ephemeral":
        log.warning(
            "neither LIVETOKENS_AUDIT_KEY nor LIVETOKENS_FINGERPRINT_KEY is set: the audit "
            "log's hash chain uses a random key, so `livetokens audit verify` cannot check it "
            "after this process ends"
        )
    return audit


def _warn(listen: str, security: Security) -> None:
    settings = security.settings
    if settings.insecure_no_auth:
        log.warning(
            "INSECURE: --insecure-no-auth: callers without credentials are accepted as "
            "'anonymous'; anyone who can reach %s can mint tokens. Development only.",
            listen,
        )
    if security.tls is None and not is_loopback(listen):
        log.warning("INSECURE: plaintext gRPC on the non-loopback address %s", listen)
    if security.audit is None:
        log.warning("no audit log (--audit-log): mint decisions are not recorded")
    elif settings.audit_fail_open:
        log.warning("--audit-fail-open: tokens are returned even when their audit record is lost")
    if security.policies.path is None and not settings.insecure_no_auth:
        log.warning(
            "no policy file (--policy): every authenticated caller may mint any token the "
            "contract allows, without a rate limit"
        )
