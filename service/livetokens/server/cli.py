"""The `livetokens` command: `serve`, `mint`, `emulator` and `demo`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import pathlib
import re
import secrets
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta

from livetokens.server.settings import (
    GOOGLE_BASE_URL,
    Secret,
    Settings,
    SettingsError,
    environ_doc,
    from_env,
)

log = logging.getLogger("livetokens")

BANNER = """
************************************************************************************
*  livetokens is running against the BUNDLED UPSTREAM EMULATOR at {url}
*  because --emulator (LIVETOKENS_EMULATOR=true) was given.
*  Tokens it mints are NOT valid at Google. Set GEMINI_API_KEY (and drop --emulator)
*  to mint real tokens.
************************************************************************************
"""

_SPAN = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$")


def parse_span(text: str) -> timedelta:
    """``90s``, ``30m``, ``1h30m`` or a plain number of seconds."""
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        pass
    match = _SPAN.match(text.strip())
    if not text.strip() or not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 90s, 30m, 1h)")
    hours, minutes, seconds = match.groups()
    return timedelta(hours=int(hours or 0), minutes=int(minutes or 0), seconds=float(seconds or 0))


EVENT_LOOPS = ("uvloop", "asyncio")


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The loop `serve` runs on. uvloop (libuv) costs less CPU per mint than asyncio's
    own loop (docs/benchmarks.md); ``asyncio`` keeps the standard library's."""
    if name == "asyncio":
        return asyncio.new_event_loop
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    raise SettingsError(
        f"LIVETOKENS_EVENT_LOOP must be one of {', '.join(EVENT_LOOPS)}, got {name!r}"
    )


def _epilog(env: dict[str, str]) -> str:
    lines = ["environment:"] + [f"  {k}\n      {v}" for k, v in env.items()]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="livetokens",
        description="Mint Gemini Live API ephemeral tokens over gRPC.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve",
        help="run the gRPC server",
        description="Run the livetokens gRPC server. It needs GEMINI_API_KEY (or "
        "GEMINI_API_KEY_FILE); with --emulator instead it starts the bundled upstream "
        "emulator, whose tokens Google rejects, and says so loudly.",
        epilog=_epilog(environ_doc()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--listen", help="HOST:PORT to listen on (default 127.0.0.1:50051)")
    serve.add_argument("--upstream-url", help="token endpoint base URL (default Google's)")
    serve.add_argument("--api-version", choices=("v1alpha", "v1beta"), help="default v1alpha")
    serve.add_argument(
        "--transport", choices=("aiohttp", "httpx"), help="httpx transport (default aiohttp)"
    )
    serve.add_argument(
        "--port-file", help="write the bound port to this file once serving (for scripts)"
    )
    serve.add_argument(
        "--emulator",
        action="store_true",
        default=None,
        help="start the bundled upstream emulator and mint from it (development; its tokens "
        "are NOT valid at Google). Without it, a missing GEMINI_API_KEY stops start-up",
    )
    serve.add_argument(
        "--event-loop",
        choices=EVENT_LOOPS,
        default=None,
        help="asyncio event loop (default uvloop; env LIVETOKENS_EVENT_LOOP)",
    )
    serve.add_argument(
        "--emulator-model-latency",
        action="append",
        default=[],
        metavar="MODEL=SECONDS",
        help="with the bundled emulator: delay answers for MODEL (repeatable; for tests)",
    )
    _add_security_arguments(serve)
    _add_limit_arguments(serve)
    _add_state_arguments(serve)
    _add_observability_arguments(serve)

    mint = sub.add_parser(
        "mint",
        help="mint one token through a running server and print it as JSON",
        description="Call MintToken on a running livetokens and print the Token as JSON. "
        "The token name in the output is a secret: hand it only to the app that needs it.",
    )
    mint.add_argument(
        "--target",
        default=None,
        help="server HOST:PORT (default $LIVETOKENS_TARGET or 127.0.0.1:50051)",
    )
    mint.add_argument(
        "--tls",
        action="store_true",
        help="use TLS even for a loopback target (non-loopback targets always use TLS)",
    )
    mint.add_argument("--ca", help="CA bundle (PEM) to verify the server; default: system roots")
    mint.add_argument("--cert", help="client certificate (PEM) for mutual TLS")
    mint.add_argument("--key", help="client private key (PEM) for mutual TLS")
    mint.add_argument(
        "--bearer-file",
        help="file holding a bearer secret to send as 'authorization: Bearer' "
        "(or set LIVETOKENS_BEARER; never a flag value)",
    )
    mint.add_argument(
        "--timeout", type=float, default=10.0, help="deadline in seconds (default 10)"
    )
    mint.add_argument(
        "--request-json", help="a whole TokenRequest as proto3 JSON; flags below override it"
    )
    mint.add_argument(
        "--model", help="lock the token to this model, e.g. gemini-live-2.5-flash-preview"
    )
    mint.add_argument(
        "--uses", type=int, help="sessions the token may start (0 = unlimited; default 1)"
    )
    mint.add_argument("--lifetime", type=parse_span, help="how long the token works (default 30m)")
    mint.add_argument(
        "--new-session-window", type=parse_span, help="window to start a session (default 1m)"
    )
    mint.add_argument(
        "--modality", action="append", choices=("AUDIO", "TEXT"), help="response modality"
    )
    mint.add_argument("--temperature", type=float)
    mint.add_argument("--voice", help="prebuilt voice name, e.g. Kore")
    mint.add_argument("--system-instruction")
    mint.add_argument("--session-resumption", action="store_true", help="enable session resumption")
    mint.add_argument("--lock", choices=("all", "set-fields"), help="lock mode (default all)")
    mint.add_argument(
        "--lock-field",
        action="append",
        default=[],
        help="extra locked field (with --lock set-fields), e.g. output_audio_transcription",
    )
    mint.add_argument("--request-id", help="UUID4 that makes a retry idempotent")

    hash_secret = sub.add_parser(
        "hash-secret",
        help="print the policy-file form (sha256:...) of a bearer secret",
        description="Read a bearer secret from stdin and print the `sha256:<hex>` line for "
        "a caller's `credentials` in the policy file. With --generate, make a new random "
        "secret, print it on stderr and its hash on stdout.",
    )
    hash_secret.add_argument(
        "--generate", action="store_true", help="generate a new 256-bit secret instead"
    )

    audit = sub.add_parser(
        "audit",
        help="check an audit log's hash chain",
        description="Audit log tools (docs/security.md, 'Tamper evidence').",
    )
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify",
        help="check that an audit log (or its rotated files, oldest first) is intact",
        description="Check every record's keyed hash and its place in the chain, and name "
        "the first broken or missing record. The key is LIVETOKENS_AUDIT_KEY(_FILE), else "
        "the one derived from LIVETOKENS_FINGERPRINT_KEY(_FILE), as the server used. "
        "Exit status: 0 intact; 1 broken (edited, reordered, deleted or inserted record, "
        "or a line cut off); 2 usage error, unreadable file or no key; 3 intact but a run "
        "ends without its stop record (the server is still running or crashed, or records "
        "were cut off the end).",
    )
    verify.add_argument("files", nargs="+", metavar="FILE", help="audit log file(s)")

    emulator = sub.add_parser(
        "emulator",
        help="run the upstream emulator alone",
        description="Run the bundled imitation of Google's auth_tokens endpoint. Its tokens "
        "are not valid at Google.",
    )
    from livetokens.emulator import add_arguments

    add_arguments(emulator)

    demo = sub.add_parser(
        "demo",
        help="the whole flow on loopback: emulator (TLS) + livetokens, mint, a Live session",
        description="Start the emulator over TLS and livetokens in front of it, mint a "
        "token through livetokens, and hold a short text session on the token's "
        "websocket_url, printing each step. Secrets are shown only as fingerprints. "
        "Needs the 'cryptography' package (pip install 'livetokens[demo]').",
    )
    demo.add_argument(
        "--text", default="Hello, Live API!", help="what the app says in its one turn"
    )
    return parser


def _add_security_arguments(serve: argparse.ArgumentParser) -> None:
    """The `serve` flags of docs/security.md; each also has a LIVETOKENS_* variable."""
    group = serve.add_argument_group("security (docs/security.md)")
    group.add_argument("--tls-cert", help="server certificate chain (PEM); enables TLS")
    group.add_argument("--tls-key", help="server private key (PEM)")
    group.add_argument(
        "--tls-client-ca",
        help="CA bundle (PEM) for client certificates: mutual TLS, callers named by their "
        "SPIFFE URI or DNS SAN",
    )
    group.add_argument(
        "--policy", dest="policy_file", help="policy file (TOML); reloaded on SIGHUP"
    )
    group.add_argument(
        "--trusted-proxy",
        dest="trusted_proxies",
        action="append",
        default=None,
        metavar="ADDR_OR_CIDR",
        help="a proxy (mesh sidecar) whose identity header is trusted (repeatable)",
    )
    group.add_argument(
        "--insecure-trust-wide-proxy-ranges",
        dest="trust_wide_proxy_ranges",
        action="store_true",
        default=None,
        help="accept --trusted-proxy ranges wider than /8 (IPv4) or /32 (IPv6), /0 included: "
        "anyone inside them can claim any identity",
    )
    group.add_argument(
        "--identity-header",
        help="header the trusted proxy sets (default x-forwarded-client-cert, parsed as "
        "Envoy XFCC; any other header's value is the caller id)",
    )
    group.add_argument(
        "--insecure-no-auth",
        action="store_true",
        default=None,
        help="accept callers without credentials as 'anonymous' (loopback only; development)",
    )
    group.add_argument(
        "--insecure-allow-non-loopback",
        action="store_true",
        default=None,
        help="allow plaintext, or --insecure-no-auth, on a non-loopback address",
    )
    group.add_argument("--audit-log", help="append-only JSON-lines audit log")
    group.add_argument(
        "--no-audit-fsync",
        dest="audit_fsync",
        action="store_false",
        default=None,
        help="flush audit records without fsync (faster, may lose records on power loss)",
    )
    group.add_argument(
        "--audit-fail-open",
        action="store_true",
        default=None,
        help="return tokens even when their audit record cannot be written (not recommended)",
    )


def _add_observability_arguments(serve: argparse.ArgumentParser) -> None:
    """The `serve` flags of README "Deploying"; each also has a LIVETOKENS_* variable."""
    group = serve.add_argument_group("admin, drain, logs, traces, connections (README: Deploying)")
    group.add_argument(
        "--admin-listen",
        help="plaintext HTTP HOST:PORT for /livez /readyz /metrics (default 127.0.0.1:8081; "
        "in a pod give the pod IP or 0.0.0.0; 'off' disables)",
    )
    group.add_argument(
        "--health-listen",
        help="plaintext gRPC HOST:PORT serving only grpc.health.v1, for Kubernetes grpc "
        "probes (default 127.0.0.1:8082; 'off' disables)",
    )
    group.add_argument(
        "--admin-port-file",
        help="write 'HTTP_PORT HEALTH_PORT' (0 when off) to this file once serving (for scripts)",
    )
    group.add_argument(
        "--drain-delay",
        type=float,
        help="seconds readiness reports NOT_SERVING after SIGTERM while calls are still "
        "accepted (default 5)",
    )
    group.add_argument(
        "--grace-period",
        type=float,
        help="seconds in-flight mints get once the listener stops (default 10)",
    )
    group.add_argument("--log-format", choices=("text", "json"), help="default text")
    group.add_argument(
        "--otlp-endpoint",
        help="OTLP/gRPC collector URL for traces, e.g. http://otel-collector:4317 "
        "(default $OTEL_EXPORTER_OTLP_ENDPOINT; none: no traces)",
    )
    group.add_argument(
        "--keepalive-time", type=float, help="seconds between keepalive pings (default 60)"
    )
    group.add_argument(
        "--max-connection-age",
        type=float,
        help="seconds before a connection is sent GOAWAY, +-10%% jitter (default 300; 0 off)",
    )
    group.add_argument(
        "--max-connection-age-grace",
        type=float,
        help="seconds calls on a GOAWAY'd connection get (default 30)",
    )
    group.add_argument(
        "--policy-poll-interval",
        type=float,
        help="seconds between checks of the policy file for changes (default 5; 0: SIGHUP only)",
    )


_OBSERVABILITY_FLAGS = (
    "admin_listen",
    "health_listen",
    "drain_delay",
    "log_format",
    "otlp_endpoint",
    "keepalive_time",
    "max_connection_age",
    "max_connection_age_grace",
    "policy_poll_interval",
)


def _add_limit_arguments(serve: argparse.ArgumentParser) -> None:
    """The `serve` flags of docs/hardening.md; each also has a LIVETOKENS_* variable."""
    group = serve.add_argument_group("limits (docs/hardening.md)")
    group.add_argument(
        "--max-request-bytes",
        type=int,
        help="largest TokenRequest accepted, in bytes (default 524288); larger ones get "
        "INVALID_ARGUMENT / REQUEST_TOO_LARGE",
    )
    group.add_argument(
        "--max-concurrent-mints",
        type=int,
        help="mints in progress at once (default 4096); more get UNAVAILABLE / OVERLOADED "
        "with RetryInfo",
    )
    group.add_argument(
        "--max-pending-calls",
        type=int,
        help="gRPC core's queue of calls not yet handed to livetokens (default 16384; "
        "gRPC's own default of 1000 cancels calls silently under bursts)",
    )


def _add_state_arguments(serve: argparse.ArgumentParser) -> None:
    """The `serve` flags of docs/state.md; each also has a LIVETOKENS_* variable."""
    group = serve.add_argument_group("shared state and workers (docs/state.md)")
    group.add_argument(
        "--state",
        help="memory (default; per process) or redis://[USER@]HOST:PORT/DB, rediss://... "
        "(TLS): where idempotency entries and rate buckets live. The ACL user's password "
        "comes from LIVETOKENS_STATE_PASSWORD(_FILE)",
    )
    group.add_argument(
        "--state-failure-mode",
        choices=("closed", "local"),
        help="when Redis is down or slow: closed (default) refuses with STATE_UNAVAILABLE; "
        "local carries on with per-process deduplication and limits (logged and counted)",
    )
    group.add_argument(
        "--state-lease", help="seconds a mint's claim outlives a replica that died (default 5)"
    )
    group.add_argument("--state-timeout", help="cap in seconds on one Redis call (default 1)")
    group.add_argument(
        "--idempotency-max-bytes",
        help="byte bound of the in-memory idempotency entries (default 64 MiB)",
    )
    group.add_argument(
        "--workers",
        help="server processes sharing the listen port with SO_REUSEPORT (default 1); "
        "more than 1 needs --state redis://... or --accept-per-worker-state",
    )
    group.add_argument(
        "--accept-per-worker-state",
        action="store_true",
        default=None,
        help="allow --workers N > 1 with the memory backend: each worker then deduplicates "
        "only its own retries and gives each caller the full rate (N x the policy rate)",
    )


def _hash_secret(args: argparse.Namespace) -> int:
    from livetokens.server.security.policy import hash_secret

    if args.generate:
        secret = secrets.token_urlsafe(32)
        print(secret, file=sys.stderr)
    else:
        secret = sys.stdin.readline().strip()
        if not secret:
            print("livetokens hash-secret: no secret on stdin", file=sys.stderr)
            return 2
    print(hash_secret(secret))
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    import os

    from livetokens.server.security.audit_chain import EXIT_USAGE, derive_key, verify
    from livetokens.server.settings import secret_from_env

    audit_key = secret_from_env(os.environ, "LIVETOKENS_AUDIT_KEY")
    fingerprint_key = secret_from_env(os.environ, "LIVETOKENS_FINGERPRINT_KEY")
    key, _ = derive_key(
        audit_key.reveal().encode() if audit_key else None,
        fingerprint_key.reveal().encode() if fingerprint_key else None,
    )
    if not key:
        print(
            "livetokens audit verify: no key: set LIVETOKENS_AUDIT_KEY(_FILE) or "
            "LIVETOKENS_FINGERPRINT_KEY(_FILE) as the server had them",
            file=sys.stderr,
        )
        return EXIT_USAGE
    paths = [pathlib.Path(f) for f in args.files]
    try:
        report = verify(paths, key)
    except OSError as exc:
        print(
            f"livetokens audit verify: cannot read {exc.filename}: {exc.strerror}", file=sys.stderr
        )
        return EXIT_USAGE
    if report.problem is not None:
        print(f"BROKEN: {report.problem}", file=sys.stderr)
        print(f"{report.records} records verified before it", file=sys.stderr)
    else:
        for end in report.open_ends:
            print(f"OPEN END: {end}", file=sys.stderr)
        print(f"OK: {report.records} records, chain intact")
    return report.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `livetokens` command."""
    raw = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(raw)
    args.raw_argv = raw[1:] if raw and raw[0] == "serve" else raw
    # grpc-core logs to stderr on its own, outside Python logging (and so outside
    # --log-format json): only its errors, unless the operator asks for more.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request line at INFO; livetokens logs one line per mint instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        if args.command == "serve":
            loop = args.event_loop or os.environ.get("LIVETOKENS_EVENT_LOOP", "uvloop")
            with asyncio.Runner(loop_factory=event_loop_factory(loop)) as runner:
                return runner.run(_serve(args))
        if args.command == "mint":
            from livetokens.server.mint_command import run_mint

            return run_mint(args)
        if args.command == "hash-secret":
            return _hash_secret(args)
        if args.command == "audit":
            return _audit_verify(args)
        if args.command == "demo":
            from livetokens.server.demo import main as demo_main

            return demo_main(args.text)
        from livetokens.emulator import run_from_args

        asyncio.run(run_from_args(args))
        return 0
    except SettingsError as exc:
        print(f"livetokens: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _model_latencies(items: Sequence[str]) -> dict[str, float]:
    latencies = {}
    for item in items:
        model, sep, seconds = item.partition("=")
        try:
            latencies[model] = float(seconds)
        except ValueError:
            sep = ""
        if not sep or not model:
            raise SettingsError(f"--emulator-model-latency wants MODEL=SECONDS, got {item!r}")
    return latencies


@contextlib.asynccontextmanager
async def upstream_for(
    settings: Settings, model_latency: dict[str, float]
) -> AsyncIterator[Settings]:
    """``settings`` as given when it has an API key; with ``security.emulator`` (and only
    then) pointed at a fresh in-process emulator on loopback with a random key.

    Raises SettingsError when there is no key and no explicit emulator request, so a
    production process whose key secret failed to mount never hands out fake tokens.
    """
    check_upstream(settings)
    if not settings.security.emulator:
        if model_latency:
            raise SettingsError("--emulator-model-latency only applies with --emulator")
        yield settings
        return
    from livetokens.emulator import Emulator, EmulatorConfig

    key = "emulator-" + secrets.token_hex(16)
    config = EmulatorConfig(api_keys=frozenset({key}), model_latency=model_latency)
    async with Emulator(config) as emulator:
        if settings.observability.log_format == "json":
            log.warning(
                "livetokens is running against the BUNDLED UPSTREAM EMULATOR at %s because "
                "GEMINI_API_KEY is not set: tokens it mints are NOT valid at Google",
                emulator.base_url,
            )
        else:
            print(BANNER.format(url=emulator.base_url), file=sys.stderr, flush=True)
        yield dataclasses.replace(
            settings,
            api_key=Secret(key),
            upstream=dataclasses.replace(settings.upstream, base_url=emulator.base_url),
        )


def check_workers(settings: Settings) -> None:
    """Refuse N > 1 workers on per-process state unless the operator accepted it."""
    state = settings.state
    if state.backend != "memory":
        return
    if not state.accept_per_worker_state:
        raise SettingsError(
            f"--workers {state.workers} with the memory state backend would keep "
            "idempotency entries and rate limits PER WORKER: a retry balanced to another "
            f"worker mints a second token, and each caller gets {state.workers}x its rate. "
            "Use --state redis://..., or pass --accept-per-worker-state to accept that"
        )
    log.warning(
        "%d workers with the memory state backend: idempotency and rate limits are per "
        "worker (a retry on another worker mints again; callers get %dx their rate)",
        state.workers,
        state.workers,
    )


def check_upstream(settings: Settings) -> None:
    """Refuse a server that would have no real upstream key, or an ambiguous request."""
    emulator = settings.security.emulator
    if emulator and settings.api_key is not None:
        raise SettingsError(
            "--emulator (LIVETOKENS_EMULATOR) and GEMINI_API_KEY/GEMINI_API_KEY_FILE are both "
            "set: drop one (the emulator's tokens are not valid at Google)"
        )
    if emulator and settings.upstream.base_url != GOOGLE_BASE_URL:
        raise SettingsError("--emulator and an upstream URL were both given: drop one")
    if not emulator and settings.api_key is None:
        raise SettingsError(
            "no Gemini API key: set GEMINI_API_KEY or GEMINI_API_KEY_FILE (for development "
            "without a key, pass --emulator or LIVETOKENS_EMULATOR=true to mint from the "
            "bundled emulator, whose tokens Google rejects)"
        )


async def _serve(args: argparse.Namespace) -> int:
    from livetokens.server.app import create_server, serve_until_signalled

    settings = from_env(
        listen=args.listen,
        upstream_url=args.upstream_url,
        api_version=args.api_version,
        transport=args.transport,
        **{
            name: getattr(args, name)
            for name in (
                "tls_cert",
                "tls_key",
                "tls_client_ca",
                "policy_file",
                "trusted_proxies",
                "identity_header",
                "insecure_no_auth",
                "insecure_allow_non_loopback",
                "audit_log",
                "audit_fsync",
                "audit_fail_open",
                "state",
                "state_failure_mode",
                "state_lease",
                "state_timeout",
                "idempotency_max_bytes",
                "workers",
                "accept_per_worker_state",
                "emulator",
                "trust_wide_proxy_ranges",
                *_OBSERVABILITY_FLAGS,
                "grace_period",
                "max_request_bytes",
                "max_concurrent_mints",
                "max_pending_calls",
            )
        },
    )
    from livetokens.server import logs

    logs.configure(settings.observability.log_format, settings.log_level)
    if settings.state.workers > 1:
        from livetokens.server.workers import supervise

        check_workers(settings)
        async with upstream_for(
            settings, _model_latencies(args.emulator_model_latency)
        ) as effective:
            return await supervise(effective, args)
    async with upstream_for(settings, _model_latencies(args.emulator_model_latency)) as effective:
        running = await create_server(effective)
        host = effective.listen.rpartition(":")[0]
        log.info(
            "livetokens serving livetokens.v1.TokenService on %s:%d (%s; upstream %s, %s)",
            host,
            running.port,
            running.security.describe() if running.security else "-",
            effective.upstream.base_url,
            effective.upstream.api_version,
        )
        if running.admin is not None:
            log.info("admin: %s", running.admin.describe())
            if args.admin_port_file:
                ports = f"{running.admin.http_port or 0} {running.admin.health_port or 0}\n"
                pathlib.Path(args.admin_port_file).write_text(ports)  # noqa: ASYNC240
        if args.port_file:
            # A few bytes, once, at start-up: blocking the loop here is harmless.
            pathlib.Path(args.port_file).write_text(f"{running.port}\n")  # noqa: ASYNC240
        await serve_until_signalled(
            running,
            effective.grace_period,
            drain_delay=effective.observability.drain_delay,
        )
    return 0
