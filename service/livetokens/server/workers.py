"""``livetokens serve --workers N``: N server processes on one port, so one host uses
more than one core (a single grpc.aio process runs its handlers on one core).

The supervisor (this process) does no gRPC work. It reserves the port (binding port 0
picks one), starts N children of the same command with ``--workers 1``, each binding
the port with SO_REUSEPORT (``grpc.so_reuseport``) so the kernel spreads connections
over them, forwards SIGTERM/SIGINT/SIGHUP to them and stops all when one exits.
With the bundled emulator, the supervisor runs it and the children share it.

Each child has its own memory: with the memory state backend, idempotency entries and
rate buckets are per worker (cli.check_workers refuses that unless accepted).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import pathlib
import secrets
import signal
import socket
import sys
import tempfile
from collections.abc import Sequence

from livetokens.server.settings import Settings, SettingsError

log = logging.getLogger("livetokens.workers")

# Flags the supervisor decides for its children (with how many values each takes).
_OWN_FLAGS = {
    "--listen": 1,
    "--workers": 1,
    "--port-file": 1,
    "--upstream-url": 1,
    "--emulator-model-latency": 1,
    "--emulator": 0,
}
READY_TIMEOUT = 60.0


def child_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` (after ``serve``) without the flags the supervisor sets itself."""
    kept: list[str] = []
    skip = 0
    for arg in argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in _OWN_FLAGS:
            if "=" not in arg:
                skip = _OWN_FLAGS[name]
            continue
        kept.append(arg)
    return kept


def _reserve(host: str, port: int) -> socket.socket:
    """A bound, non-listening SO_REUSEPORT socket holding the port until the children
    listen on it too."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise SettingsError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    return sock


async def supervise(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``settings.state.workers`` children until a signal or a child's exit."""
    host, _, port_text = settings.listen.rpartition(":")
    reserved = _reserve(host, int(port_text))
    port = reserved.getsockname()[1]
    workers = settings.state.workers
    env = dict(os.environ)
    env.pop("GEMINI_API_KEY_FILE", None)
    env.pop("LIVETOKENS_EMULATOR", None)  # the supervisor runs it; children use its URL
    assert settings.api_key is not None
    env["GEMINI_API_KEY"] = settings.api_key.reveal()
    env["LIVETOKENS_UPSTREAM_URL"] = settings.upstream.base_url
    env["LIVETOKENS_WORKERS"] = "1"
    if settings.fingerprint_key is None and not env.get("LIVETOKENS_FINGERPRINT_KEY_FILE"):
        # One key for all workers, so a token's fingerprint does not depend on which
        # worker minted it (still random per run, as for one process).
        env["LIVETOKENS_FINGERPRINT_KEY"] = secrets.token_hex(32)
    forwarded = child_argv(getattr(args, "raw_argv", sys.argv[2:]))
    children: list[asyncio.subprocess.Process] = []
    with tempfile.TemporaryDirectory(prefix="livetokens-workers-") as tmp:
        try:
            for index in range(workers):
                port_file = pathlib.Path(tmp, f"worker-{index}.port")
                env["LIVETOKENS_WORKER_INDEX"] = str(index)
                children.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "livetokens.server",
                        "serve",
                        *forwarded,
                        "--listen",
                        f"{host}:{port}",
                        "--workers",
                        "1",
                        "--port-file",
                        str(port_file),
                        # Only worker 0 binds the admin listeners (a second bind of their
                        # ports would fail); its metrics cover its own calls only.
                        *(("--admin-listen", "off", "--health-listen", "off") if index else ()),
                        env=env,
                    )
                )
            await _wait_ready(children, pathlib.Path(tmp))
        except BaseException:
            reserved.close()
            await _stop(children)
            raise
        reserved.close()
        log.info(
            "livetokens: %d workers serving on %s:%d (SO_REUSEPORT), state %s",
            workers,
            host,
            port,
            settings.state.backend.split("@")[-1],
        )
        if args.port_file:
            pathlib.Path(args.port_file).write_text(f"{port}\n")  # noqa: ASYNC240
        return await _run(children)


async def _wait_ready(children: list[asyncio.subprocess.Process], folder: pathlib.Path) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + READY_TIMEOUT
    while loop.time() < end:
        for child in children:
            if child.returncode is not None:
                raise SettingsError(f"a worker exited during start-up (status {child.returncode})")
        if all(
            (folder / f"worker-{i}.port").exists()
            and (folder / f"worker-{i}.port").read_text().strip()
            for i in range(len(children))
        ):
            return
        await asyncio.sleep(0.05)
    raise SettingsError(f"workers not serving after {READY_TIMEOUT:g}s")


async def _run(children: list[asyncio.subprocess.Process]) -> int:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def forward(sig: signal.Signals) -> None:
        if sig is not signal.SIGHUP:
            stopping.set()
        for child in children:
            if child.returncode is None:
                child.send_signal(sig)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, forward, sig)
    try:
        waits = [asyncio.ensure_future(child.wait()) for child in children]
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        first = next(iter(done)).result()
        if not stopping.is_set():
            log.error("a worker exited (status %s): stopping the others", first)
        await _stop(children)
        return 0 if stopping.is_set() else 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)


async def _stop(children: list[asyncio.subprocess.Process], grace: float = 30.0) -> None:
    for child in children:
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            await asyncio.wait_for(child.wait(), grace)
        except TimeoutError:
            child.kill()
            await child.wait()
