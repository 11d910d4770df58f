"""`livetokens serve --workers N`: N processes on one port, and the refusal of per-worker
memory state that nobody accepted."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys

import grpc
import pytest
from redis_support import RedisServer

from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

SERVE = [
    sys.executable, "-m", "livetokens.server", "serve", "--emulator", "--insecure-no-auth",
    "--admin-listen", "127.0.0.1:0", "--health-listen", "off",
]  # fmt: skip


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("LIVETOKENS_", "GEMINI_"))}


def test_workers_with_memory_state_are_refused_unless_accepted() -> None:
    """--workers 2 on the memory backend exits 2 saying what would be per worker."""
    result = subprocess.run(
        [*SERVE, "--listen", "127.0.0.1:0", "--workers", "2"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "PER WORKER" in result.stderr
    assert "--accept-per-worker-state" in result.stderr
    assert "mints a second token" in result.stderr


def children(pid: int) -> list[int]:
    path = pathlib.Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()]


@pytest.mark.timeout(90)
async def test_two_workers_share_one_port_and_one_redis(
    tmp_path: pathlib.Path, redis_server: RedisServer
) -> None:
    """Two worker processes serve one port; connections spread over both (each mints);
    a request_id retried on fresh connections mints once; SIGTERM stops everything."""
    port_file = tmp_path / "port"
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: ASYNC220 - returns at once
            [*SERVE, "--listen", "127.0.0.1:0", "--workers", "2", "--state", redis_server.url,
             "--port-file", str(port_file)],
            env=clean_env(),
            stdout=sink,
            stderr=sink,
        )  # fmt: skip
    try:
        async with asyncio.timeout(30):
            while not (port_file.exists() and port_file.read_text().strip()):
                assert process.poll() is None, log.read_text()
                await asyncio.sleep(0.05)
        port = int(port_file.read_text())
        workers = children(process.pid)
        assert len(workers) == 2
        names = set()
        for _ in range(12):
            # A new channel is a new connection: the kernel picks a worker for each.
            # A local subchannel pool: channels to one target would share a connection.
            async with grpc.aio.insecure_channel(
                f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
            ) as channel:
                stub = ts_grpc.TokenServiceStub(channel)
                await stub.MintToken(ts.TokenRequest(), timeout=10)
                token = await stub.MintToken(
                    ts.TokenRequest(request_id="7c9e6679-7425-40de-944b-e07fc1f97a01"), timeout=10
                )
                names.add(token.name)
        assert len(names) == 1
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    text = log.read_text()
    assert text.count("livetokens serving livetokens.v1.TokenService") == 2
    minted = [line for line in text.splitlines() if "minted token fingerprint=" in line]
    assert len(minted) == 13  # 12 plain mints and 1 for the request_id
    assert {"[worker 0]", "[worker 1]"} <= {
        word for line in minted for word in ("[worker 0]", "[worker 1]") if word in line
    }
    for pid in workers:
        assert not pathlib.Path(f"/proc/{pid}").exists()  # noqa: ASYNC240 - after the run
