"""Shared by bench/bench.py and bench/mint_bench.py: child processes, their environment
and the small helpers both benchmarks record with."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import os
import pathlib
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence


class BenchError(Exception):
    """The benchmark cannot go on (a process did not start, a target is unreachable)."""


class Processes:
    """The child processes of one run; :meth:`stop_all` ends every one still running.

    Each child's stdout and stderr go to ``<logdir>/<name>.log``, read back only to
    explain a failed start.
    """

    def __init__(self, logdir: pathlib.Path) -> None:
        self.logdir = logdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def log(self, name: str) -> pathlib.Path:
        """The file a child's stdout and stderr go to."""
        return self.logdir / f"{name}.log"

    def spawn(self, name: str, argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        """Start ``argv`` as the child called ``name`` (no waiting)."""
        with self.log(name).open("ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and scripts, no shell
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env
            )
        self.procs[name] = proc
        return proc

    def pids(self) -> list[int]:
        """The process ids of the children still running."""
        return [p.pid for p in self.procs.values() if p.poll() is None]

    def tail(self, name: str, lines: int = 20) -> str:
        """The last ``lines`` lines the child ``name`` printed."""
        with contextlib.suppress(OSError):
            text = self.log(name).read_text(encoding="utf-8", errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def stop_all(self) -> None:
        """SIGTERM every child, last started first; SIGKILL what lingers after 5 s."""
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def child_env(**extra: str) -> dict[str, str]:
    """This environment minus any LIVETOKENS_/GEMINI_ setting that could skew a run,
    with free admin/health ports and a short shutdown, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVETOKENS_", "GEMINI_"))}
    env["LIVETOKENS_GRACE_PERIOD"] = "1"
    # Several servers run at once: their admin and health listeners take free ports.
    env["LIVETOKENS_ADMIN_LISTEN"] = "127.0.0.1:0"
    env["LIVETOKENS_HEALTH_LISTEN"] = "127.0.0.1:0"
    env["LIVETOKENS_DRAIN_DELAY"] = "0"
    env.update(extra)
    return env


def free_port() -> int:
    """A loopback TCP port free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def livetokens() -> list[str]:
    """The `livetokens` command of this interpreter's environment."""
    return [sys.executable, "-m", "livetokens.server"]


def version(dist: str) -> str:
    """The installed version of the distribution ``dist``."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Make SIGTERM behave like Ctrl-C, so the same clean-up runs."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def serve_until_signalled(port: int, port_file: str | None) -> None:
    """For a child server: write its bound ``port`` to ``port_file`` (when given), then
    return on SIGTERM or SIGINT."""
    if port_file:
        # A few bytes, once, before any load: blocking the loop here is harmless.
        pathlib.Path(port_file).write_text(f"{port}\n")  # noqa: ASYNC240
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def child_server_main(doc: str | None, serve: Callable[[str, str | None], Awaitable[None]]) -> int:
    """A child server's entry point: ``--listen`` and ``--port-file`` flags, then ``serve``."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (default 127.0.0.1:0)")
    parser.add_argument("--port-file", help="write the bound port here once serving")
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.port_file))
    return 0
