"""A real redis-server (Debian's package, installed by `make redis-server`) on a random
loopback port, started and stopped by the test that needs it.

A missing redis-server is a test FAILURE, never a skip: the Makefile installs it.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence

import pytest


def redis_binary() -> str:
    """The redis-server path, or fail the test naming the make target that installs it."""
    path = shutil.which("redis-server")
    if path is None:
        pytest.fail("redis-server is not installed: run `make redis-server` (apt-get install)")
    return path


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server process in ``folder``; ``stop``/``kill``/``start`` keep the port
    and (with ``persistent``) the data, as a restarted server would."""

    def __init__(
        self,
        folder: pathlib.Path,
        *,
        persistent: bool = False,
        extra: Sequence[str] = (),
        tls: bool = False,
    ) -> None:
        """``tls``: listen with TLS only (give the --tls-* files in ``extra``)."""
        self.folder = folder
        self.port = free_port()
        self.persistent = persistent
        self.extra = list(extra)
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None
        self._started = False

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it and wait until it is ready and answers PING (10 s at most).

        redis-server cannot report a port 0 it bound, so the port is one that was free a
        moment ago; at the first start, when another process took it meanwhile, start again
        on a new port (5 attempts). A restart keeps the port, as a restarted server would."""
        for _ in range(5):
            if self._start_once():
                self._started = True
                return
            self.port = free_port()
        pytest.fail("redis-server found no free port in 5 attempts")

    def _start_once(self) -> bool:
        """True once started; False when its port was taken (first start only)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
            if self.persistent
            else ["--appendonly", "no", "--save", ""]
        )
        args = [
            redis_binary(),
            "--bind",
            "127.0.0.1",
            *(
                ["--port", "0", "--tls-port", str(self.port)]
                if self.tls
                else ["--port", str(self.port)]
            ),
            "--dir",
            str(self.folder),
            "--daemonize",
            "no",
            "--logfile",
            str(self.folder / "redis.log"),
            "--maxmemory-policy",
            "noeviction",
            *persistence,
            *self.extra,
        ]
        logfile = self.folder / "redis.log"
        logged = logfile.stat().st_size if logfile.exists() else 0
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            log = logfile.read_bytes()[logged:].decode(errors="replace") if logfile.exists() else ""
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                self._close()
                if not self._started and "already in use" in err + log:
                    return False
                pytest.fail(f"redis-server exited at start-up: {err}{log[-2000:]}")
            # Ready (its own log says so: the port is this server's, not a stranger's).
            if "Ready to accept connections" in log and self._answers():
                return True
            time.sleep(0.02)
        pytest.fail("redis-server did not answer PING within 10 s")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                if self.tls:
                    return True  # it accepts; its TLS handshake is the test's business
                sock.sendall(b"PING\r\n")
                reply = sock.recv(64)
        except OSError:
            return False
        # +PONG, or -NOAUTH when a password is required: either way it is up.
        return reply.startswith((b"+PONG", b"-NOAUTH", b"-ERR"))

    def kill(self) -> None:
        """SIGKILL, as a crash would (appendfsync always keeps what was acknowledged)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self._close()

    def pause(self) -> None:
        """SIGSTOP: alive but silent, as a hung or overloaded server."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 5 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._close()

    def _close(self) -> None:
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
