"""Helpers for the deploy-kit tests: the repository's tools, processes on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import re
import signal
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Sequence
from typing import Any

import yaml
from lt_support import child_env

REPO = pathlib.Path(__file__).resolve().parents[2]
TOOLS = REPO / ".tools" / "bin"
CHART = REPO / "deploy" / "helm" / "livetokens"
# The Kubernetes version the chart is rendered for and validated against.
KUBE_VERSION = "1.33.0"


def tool(name: str) -> pathlib.Path:
    """A tool the Makefile installs into .tools/bin; a missing one FAILS the test."""
    path = TOOLS / name
    missing = f"{path} is missing: run `make deploy-tools` (make test does) to install it"
    assert path.is_file(), missing
    assert os.access(path, os.X_OK), missing
    return path


def venv_tool(name: str) -> pathlib.Path:
    """A console script of the project's .venv (pinned in pyproject.toml)."""
    path = REPO / ".venv" / "bin" / name
    assert path.is_file(), f"{path} is missing: run `make venv`"
    return path


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the pinned helm with a private, empty home (no repositories, no plugins),
    removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="livetokens-helm-") as home:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HELM_CACHE_HOME": f"{home}/cache",
            "HELM_CONFIG_HOME": f"{home}/config",
            "HELM_DATA_HOME": f"{home}/data",
        }
        return subprocess.run(
            [str(tool("helm")), *args], capture_output=True, text=True, env=env, check=check
        )


def render(*value_files: str, set_values: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``helm template`` of the chart with ``value_files`` (relative to the chart)."""
    args = ["template", "lt", str(CHART), "--namespace", "tokens", "--kube-version", KUBE_VERSION]
    for name in value_files:
        args += ["-f", str(CHART / name)]
    for item in set_values:
        args += ["--set", item]
    out = helm(*args).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for tools that cannot take 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without livetokens or Gemini settings, admin listeners
    on loopback port 0 (a test's flags still win), plus ``extra``."""
    return child_env(**extra)


class Child:
    """A child process whose stderr is collected in the background."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.lines.append(line.decode(errors="replace"))

    @property
    def stderr(self) -> str:
        """Everything the process printed on stderr so far."""
        return "".join(self.lines)

    async def wait_for(self, pattern: str, seconds: float = 30) -> re.Match[str]:
        """The first match of ``pattern`` in stderr, waiting up to ``seconds``."""
        async with asyncio.timeout(seconds):
            while True:
                if match := re.search(pattern, self.stderr):
                    return match
                if self.process.returncode is not None:
                    raise AssertionError(f"exited {self.process.returncode}:\n{self.stderr}")
                await asyncio.sleep(0.05)

    async def stop(self) -> int:
        """SIGTERM, then SIGKILL after 20 s; the exit code."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
        code = await self.process.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        return code


@contextlib.asynccontextmanager
async def child(*argv: str | os.PathLike[str], **kwargs: Any) -> AsyncIterator[Child]:
    """Start ``argv`` with stderr captured; stop it on the way out."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        **kwargs,
    )
    proc = Child(process)
    try:
        yield proc
    finally:
        await proc.stop()


async def wait_for_port_file(path: pathlib.Path, proc: Child, seconds: float = 30) -> int:
    """The port a process wrote to ``path`` (``--port-file``)."""
    async with asyncio.timeout(seconds):
        while not path.exists() or not path.read_text().strip():  # noqa: ASYNC240
            if proc.process.returncode is not None:
                raise AssertionError(f"exited {proc.process.returncode}:\n{proc.stderr}")
            await asyncio.sleep(0.05)
    return int(path.read_text().split()[0])  # noqa: ASYNC240
