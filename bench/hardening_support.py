"""Shared by bench/overload.py, bench/soak.py and bench/worst_request.py: a livetokens
server and the upstream emulator, each in its own child process, and small measuring
helpers.

Everything listens on 127.0.0.1; the child is stopped on the way out (SIGTERM, then
SIGKILL after 5 s), Ctrl-C included.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence

import grpc
from bench_support import child_env, free_port

from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

SLOW_MODEL = "bench-slow-model"


@dataclasses.dataclass(frozen=True)
class Server:
    """A running child ``livetokens serve``: its pid, port and log file."""

    pid: int
    port: int
    log: pathlib.Path

    @property
    def target(self) -> str:
        """HOST:PORT for a channel."""
        return f"127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def serve(latency: float, *extra: str) -> AsyncIterator[Server]:
    """``livetokens serve`` against ``livetokens emulator`` (each in its own child process,
    so that the server's RSS and CPU are its own) whose answers take ``latency`` seconds;
    no caller auth (loopback), no audit log, ``extra`` flags."""
    key = "bench-" + secrets.token_hex(8)
    async with emulator_process(key, latency) as upstream:
        with tempfile.TemporaryDirectory(prefix="livetokens-bench-") as tmp:
            port_file = pathlib.Path(tmp) / "port"
            log = pathlib.Path(tmp) / "serve.log"
            argv = [sys.executable, "-m", "livetokens.server", "serve", "--insecure-no-auth"]
            argv += ["--listen", "127.0.0.1:0", "--port-file", str(port_file)]
            argv += ["--upstream-url", upstream, "--admin-listen", "off", "--health-listen", "off"]
            argv += list(extra)
            with log.open("wb") as out:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdout=out, stderr=subprocess.STDOUT, env=child_env(GEMINI_API_KEY=key)
                )
            try:
                deadline = time.monotonic() + 30
                while not port_file.exists() or not port_file.read_text().strip():
                    if proc.returncode is not None or time.monotonic() > deadline:
                        tail = log.read_text()[-2000:]
                        raise RuntimeError(f"livetokens serve did not start:\n{tail}")
                    await asyncio.sleep(0.05)
                yield Server(proc.pid, int(port_file.read_text()), log)
            finally:
                await _stop(proc, signal.SIGTERM)


async def _stop(proc: asyncio.subprocess.Process, sig: int) -> None:
    """Signal ``proc``, then kill it when it has not exited after 5 s."""
    if proc.returncode is None:
        proc.send_signal(sig)
    try:
        await asyncio.wait_for(proc.wait(), 5)
    except TimeoutError:
        proc.kill()
        await proc.wait()


@contextlib.asynccontextmanager
async def emulator_process(api_key: str, latency: float = 0.0) -> AsyncIterator[str]:
    """``livetokens emulator`` in a child process (so that its own work on large bodies
    does not load the process being measured); yields its base URL."""
    port = free_port()
    argv = [sys.executable, "-m", "livetokens.server", "emulator"]
    argv += ["--listen", f"127.0.0.1:{port}", "--api-key", api_key]
    argv += ["--latency-ms", f"{latency * 1000:g}"]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env()
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as conn:
                if conn.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError("livetokens emulator did not start")
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        await _stop(proc, signal.SIGTERM)


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (Linux /proc)."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by nearest rank; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def slow_request(request_id: str = "") -> ts.TokenRequest:
    """A valid request for SLOW_MODEL, optionally with a request_id."""
    return ts.TokenRequest(
        constraints=ts.LiveConstraints(
            model=SLOW_MODEL, config=lc.LiveConfig(response_modalities=[lc.MODALITY_AUDIO])
        ),
        request_id=request_id,
    )


def stub(channel: grpc.aio.Channel) -> ts_grpc.TokenServiceStub:
    """The generated stub on ``channel``."""
    return ts_grpc.TokenServiceStub(channel)
