"""A fleet for tests: N real `livetokens serve` processes sharing one real Redis, an
in-process counting emulator as upstream, and a channel that spreads calls over the
replicas with gRPC's own round_robin policy (imported as `fleet_support`)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

import grpc
import pytest
from lt_support import API_KEY

ROUND_ROBIN = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})


@dataclasses.dataclass
class Replica:
    """One livetokens process."""

    process: subprocess.Popen[bytes]
    port: int
    log: pathlib.Path

    def minted(self) -> int:
        """How many tokens this replica minted itself (its "minted token" log lines)."""
        return self.log.read_text(errors="replace").count("minted token fingerprint=")

    def kill(self) -> None:
        """SIGKILL: a crash mid-mint, no drain."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


class Fleet:
    """Start and stop the replicas; ``target`` lists them all for round_robin."""

    def __init__(self, folder: pathlib.Path, upstream: str, redis_url: str) -> None:
        self.folder = folder
        self.upstream = upstream
        self.redis_url = redis_url
        self.replicas: list[Replica] = []

    async def start(self, count: int, extra: Sequence[str] = ()) -> None:
        """Start ``count`` replicas at once and wait until each has written its port."""
        self.folder.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(
            GEMINI_API_KEY=API_KEY,
            LIVETOKENS_FINGERPRINT_KEY="fleet-fingerprint-key",
            LIVETOKENS_LOG_LEVEL="INFO",
        )
        env.pop("GEMINI_API_KEY_FILE", None)
        env.pop("LIVETOKENS_EMULATOR", None)
        pending = []
        for index in range(count):
            port_file = self.folder / f"replica-{index}.port"
            log = self.folder / f"replica-{index}.log"
            args = [
                sys.executable, "-m", "livetokens.server", "serve",
                "--listen", "127.0.0.1:0", "--port-file", str(port_file),
                "--insecure-no-auth", "--upstream-url", self.upstream,
                "--state", self.redis_url, "--admin-listen", "off", "--health-listen", "off",
                *extra,
            ]  # fmt: skip
            with log.open("wb") as sink:
                process = subprocess.Popen(args, env=env, stdout=sink, stderr=sink)  # noqa: ASYNC220 - returns at once
            pending.append((process, port_file, log))
        end = time.monotonic() + 30
        for process, port_file, log in pending:
            while not (port_file.exists() and port_file.read_text().strip()):
                if process.poll() is not None or time.monotonic() > end:
                    self.stop()
                    for other, _, _ in pending:
                        if other.poll() is None:
                            other.kill()
                    pytest.fail(f"replica did not start: {log.read_text()[-3000:]}")
                await asyncio.sleep(0.05)
            self.replicas.append(Replica(process, int(port_file.read_text()), log))

    @property
    def target(self) -> str:
        """``ipv4:127.0.0.1:p1,127.0.0.1:p2,...``: every replica, for round_robin."""
        return "ipv4:" + ",".join(f"127.0.0.1:{r.port}" for r in self.replicas)

    def channel(self) -> grpc.aio.Channel:
        """A channel balancing calls over every replica with round_robin."""
        return grpc.aio.insecure_channel(
            self.target, options=[("grpc.service_config", ROUND_ROBIN)]
        )

    def stop(self) -> None:
        """SIGTERM every replica still running (SIGKILL after 10 s)."""
        for replica in self.replicas:
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGTERM)
        for replica in self.replicas:
            try:
                replica.process.wait(10)
            except subprocess.TimeoutExpired:
                replica.process.kill()
                replica.process.wait(5)

    def logs(self) -> str:
        """Every replica's log, for assertion messages."""
        parts = []
        for replica in self.replicas:
            text = replica.log.read_text(errors="replace")
            start = text.find("Traceback")
            parts.append(text[start : start + 6000] if start >= 0 else text[-4000:])
        return "\n".join(parts)
