"""deploy/install.sh, the container image's only install step, run the way CI promises: in a
clean directory, as a non-root user (created here when the tests run as root, as CI does),
then the server started from that install mints a token."""

from __future__ import annotations

import contextlib
import os
import pathlib
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import grpc
import pytest
from deploy_support import REPO, child, clean_env, wait_for_port_file

from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

# What the Dockerfile copies into its build stage, and nothing else.
SOURCES = ["pyproject.toml", "README.md", "service", "clients/python", "deploy/install.sh"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist", ".venv")


@contextlib.contextmanager
def non_root_user() -> Iterator[pwd.struct_passwd]:
    """This process's user when it is not root; otherwise a new system user, removed after."""
    if os.geteuid() != 0:
        yield pwd.getpwuid(os.geteuid())
        return
    name = f"lt-install-{secrets.token_hex(3)}"
    subprocess.run(
        [
            "/usr/sbin/useradd",
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/bin/sh",
            name,
        ],
        check=True,
    )
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["/usr/sbin/userdel", name], check=False)


def system_python() -> str:
    """A Python 3.11+ outside /root (a non-root user cannot reach root's pyenv)."""
    if os.geteuid() != 0:
        return sys.executable
    found = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    assert found, "no system python3: install Debian's python3 and python3-venv"
    return found


@pytest.fixture(scope="module")
def installed() -> Iterator[pathlib.Path]:
    """deploy/install.sh run as a non-root user into a fresh prefix; yields the prefix."""
    with non_root_user() as user:
        work = pathlib.Path(tempfile.mkdtemp(prefix="livetokens-install-"))
        try:
            source = work / "src"
            for item in SOURCES:
                origin, target = REPO / item, source / item
                target.parent.mkdir(parents=True, exist_ok=True)
                if origin.is_dir():
                    shutil.copytree(origin, target, ignore=IGNORE)
                else:
                    shutil.copy2(origin, target)
            for sub in ("home", "tmp"):
                (work / sub).mkdir()
            for path in [work, *work.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
            env = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
            env |= {
                "HOME": str(work / "home"),
                "TMPDIR": str(work / "tmp"),
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "PYTHON": system_python(),
            }
            result = subprocess.run(
                ["/bin/bash", str(source / "deploy" / "install.sh"), str(work / "prefix")],
                user=user.pw_uid,
                group=user.pw_gid,
                extra_groups=[],
                env=env,
                cwd=work,
                capture_output=True,
                text=True,
                timeout=840,
                check=False,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            prefix = work / "prefix"
            assert (prefix / "bin" / "livetokens").is_file()
            assert prefix.stat().st_uid == user.pw_uid != 0, "the install must not run as root"
            # The installed server is the one built from this checkout, not an index copy.
            site = next(prefix.glob("lib/python3*/site-packages"))
            built = site / "livetokens" / "server" / "app.py"
            assert built.read_bytes() == (REPO / "service/livetokens/server/app.py").read_bytes()
            yield prefix
        finally:
            shutil.rmtree(work, ignore_errors=True)


@pytest.mark.timeout(900)
async def test_install_script_as_non_root_then_serve_and_mint(installed: pathlib.Path) -> None:
    """The server installed by deploy/install.sh (non-root, clean directory) starts against
    a separately started emulator from the same install and mints a token."""
    livetokens = installed / "bin" / "livetokens"
    key = "install-test-" + secrets.token_hex(8)
    with tempfile.TemporaryDirectory() as tmp:
        port_file = pathlib.Path(tmp) / "port"
        async with child(
            livetokens, "emulator", "--listen", "127.0.0.1:0", "--api-key", key, env=clean_env()
        ) as emulator:
            url = (await emulator.wait_for(r"Listening on (http://\S+?)[ (]")).group(1)
            async with child(
                livetokens,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--insecure-no-auth",
                # Admin listeners on free ports (their defaults, 8081/8082, are fixed).
                "--admin-listen",
                "127.0.0.1:0",
                "--health-listen",
                "127.0.0.1:0",
                "--upstream-url",
                url,
                "--port-file",
                str(port_file),
                env=clean_env(GEMINI_API_KEY=key),
            ) as server:
                port = await wait_for_port_file(port_file, server)
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                    token = await ts_grpc.TokenServiceStub(channel).MintToken(
                        ts.TokenRequest(), timeout=10
                    )
                assert token.name.startswith("auth_tokens/")
                assert token.fingerprint.startswith("hmac-sha256:")
                assert await server.stop() == 0
            assert token.name not in server.stderr
