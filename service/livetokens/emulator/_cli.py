"""``livetokens emulator``: run the emulator as a process until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from livetokens.emulator._server import Emulator, EmulatorConfig, fingerprint
from livetokens.emulator._tls import TLSUnavailable, loopback_tls

DEFAULT_LISTEN = "127.0.0.1:8089"


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _model_latency(text: str) -> tuple[str, float]:
    model, sep, ms = text.rpartition("=")
    try:
        value = float(ms)
    except ValueError:
        value = -1.0
    if not sep or not model or value < 0:
        raise argparse.ArgumentTypeError(f"expected MODEL=MILLISECONDS, got {text!r}")
    return model, value / 1000


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1], got {text!r}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def _error_status(text: str) -> int:
    if not text.isdigit() or not 400 <= int(text) <= 599:
        raise argparse.ArgumentTypeError(f"expected an HTTP error status (400-599), got {text!r}")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser`` (used by ``livetokens emulator``)."""
    parser.add_argument(
        "--listen",
        type=_listen,
        default=_listen(DEFAULT_LISTEN),
        metavar="HOST:PORT",
        help=f"address to listen on (default {DEFAULT_LISTEN}; port 0 picks a free port)",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help="an API key the emulator accepts (repeatable)",
    )
    parser.add_argument(
        "--api-key-file",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="a file of accepted API keys, one per line; blank lines and # comments ignored",
    )
    parser.add_argument(
        "--latency-ms",
        type=_non_negative,
        default=0.0,
        metavar="N",
        help="milliseconds added to every answer (default 0)",
    )
    parser.add_argument(
        "--error-rate",
        type=_rate,
        default=0.0,
        metavar="R",
        help="probability in [0, 1] that a mint request fails with --error-status (default 0)",
    )
    parser.add_argument(
        "--error-status",
        type=_error_status,
        default=503,
        metavar="S",
        help="HTTP status of the injected errors (default 503)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed for --error-rate (default: random)"
    )
    parser.add_argument(
        "--accept-live-connect-constraints",
        action="store_true",
        help="accept the liveConnectConstraints body field instead of rejecting it",
    )
    parser.add_argument(
        "--tls-ca-out",
        type=Path,
        default=None,
        metavar="PATH",
        help="serve TLS (https and wss, as google-genai's Live client needs) with a "
        "certificate made at start-up for localhost/127.0.0.1, and write its CA "
        "certificate (public) to PATH for clients to trust; needs 'cryptography'",
    )
    parser.add_argument(
        "--model-latency",
        type=_model_latency,
        action="append",
        default=[],
        metavar="MODEL=MS",
        help="extra milliseconds when the setup's model is MODEL (repeatable)",
    )


def _read_keys(paths: list[Path]) -> list[str]:
    keys: list[str] = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                keys.append(line)
    return keys


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The :class:`EmulatorConfig` described by parsed :func:`add_arguments` options.

    Raises ValueError when no API key is given, since the emulator would then refuse
    every request.
    """
    keys = [k.strip() for k in args.api_key if k.strip()] + _read_keys(args.api_key_file)
    if not keys:
        raise ValueError("the emulator needs at least one --api-key or --api-key-file")
    return EmulatorConfig(
        api_keys=frozenset(keys),
        accept_live_connect_constraints=args.accept_live_connect_constraints,
        latency=args.latency_ms / 1000,
        model_latency=dict(args.model_latency),
        seed=args.seed,
        # A long-running process keeps only recent history.
        history_limit=10_000,
    )


async def run_from_args(args: argparse.Namespace, *, stop: asyncio.Event | None = None) -> None:
    """Serve until SIGINT or SIGTERM (or until ``stop`` is set), then shut down cleanly."""
    try:
        config = config_from_args(args)
    except (OSError, ValueError) as exc:
        print(f"livetokens emulator: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    host, port = args.listen
    ssl_context = None
    if args.tls_ca_out is not None:
        try:
            tls = loopback_tls()
            tls.write_ca(args.tls_ca_out)
        except (OSError, TLSUnavailable) as exc:
            print(f"livetokens emulator: error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        ssl_context = tls.server
    try:
        async with Emulator(config, host=host, port=port, ssl_context=ssl_context) as emulator:
            if args.error_rate > 0:
                emulator.faults.set_error_rate(args.error_rate, args.error_status)
            fingerprints = ", ".join(sorted(fingerprint(k) for k in config.api_keys))
            print(
                "*** livetokens EMULATOR, NOT Google: tokens it mints are NOT valid at Google. "
                f"Listening on {emulator.base_url} "
                f"(POST /v1alpha/auth_tokens, /v1beta/auth_tokens; "
                f"Live WebSocket {emulator.websocket_url()}; "
                f"{len(config.api_keys)} API key(s), fingerprints {fingerprints}) ***",
                file=sys.stderr,
                flush=True,
            )
            await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
