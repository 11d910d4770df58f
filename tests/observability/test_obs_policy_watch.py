"""The policy file is watched: kubelet's atomic ConfigMap swap reloads it without a
signal, an invalid file keeps the old policy, and both results reach the metrics."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import pathlib
import secrets
import shutil

import grpc
from obs_support import StartServer, scrape, value

from livetokens.server import RunningServer
from livetokens.server.policy_watch import signature
from livetokens.server.security.policy import hash_secret
from livetokens.server.settings import ObservabilitySettings, SecuritySettings
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

APP = "watch-app-secret-" + secrets.token_hex(8)
POLICY = f'[callers.app]\ncredentials = ["{hash_secret(APP)}"]\n'


class ConfigMapVolume:
    """A directory laid out and updated the way kubelet does a ConfigMap volume:
    ``policy.toml -> ..data/policy.toml``, ``..data -> ..<timestamp>``, and an update is
    a new timestamped directory plus an atomic rename of a new ``..data`` link."""

    def __init__(self, root: pathlib.Path) -> None:
        self.root = root
        self.generation = 0
        self.path = root / "policy.toml"

    def publish(self, text: str) -> None:
        self.generation += 1
        target = f"..2026_11_29_22_00_00.{self.generation:09d}"
        (self.root / target).mkdir()
        (self.root / target / "policy.toml").write_text(text)
        data = self.root / "..data"
        old = os.readlink(data) if data.is_symlink() else None
        tmp = self.root / "..data_tmp"
        tmp.symlink_to(target)
        os.rename(tmp, data)
        if not self.path.is_symlink():
            self.path.symlink_to("..data/policy.toml")
        if old is not None:
            shutil.rmtree(self.root / old)


async def _reload_failed(running: RunningServer) -> bool:
    text = await scrape(running)
    return value(text, "livetokens_policy_reloads_total", result="invalid") > 0


async def _mint(port: int, uses: int) -> str:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            await ts_grpc.TokenServiceStub(channel).MintToken(
                ts.TokenRequest(uses=uses),
                timeout=5,
                metadata=(("authorization", f"Bearer {APP}"),),
            )
        except grpc.aio.AioRpcError as error:
            return error.code().name
    return "OK"


async def test_a_configmap_swap_reloads_the_policy_and_an_invalid_one_is_refused(
    start_server: StartServer, tmp_path: pathlib.Path
) -> None:
    """New policy in force after the swap; a broken file afterwards keeps it; both
    reloads are counted and recorded in the audit log."""
    audit = tmp_path / "audit.jsonl"
    volume = ConfigMapVolume(tmp_path / "volume")
    volume.root.mkdir()
    volume.publish(POLICY + "max_uses = 5\n")
    running = await start_server(
        security=SecuritySettings(policy_file=volume.path, audit_log=audit),
        observability=ObservabilitySettings(admin_listen="127.0.0.1:0", policy_poll_interval=0.05),
    )
    assert await _mint(running.port, 3) == "OK"

    stricter = POLICY + "max_uses = 1\n"
    volume.publish(stricter)
    async with asyncio.timeout(10):
        while await _mint(running.port, 3) == "OK":  # noqa: ASYNC110 - until the watch reloads
            await asyncio.sleep(0.05)
    assert await _mint(running.port, 3) == "PERMISSION_DENIED"
    text = await scrape(running)
    assert value(text, "livetokens_policy_reloads_total", trigger="watch", result="ok") == 1
    digest = hashlib.sha256(stricter.encode()).hexdigest()
    assert value(text, "livetokens_policy_info", sha256=digest) == 1

    volume.publish("[callers.app]\nmax_uses = 'two'\n")
    async with asyncio.timeout(10):
        while not await _reload_failed(running):  # noqa: ASYNC110 - until the watch polls
            await asyncio.sleep(0.05)
    assert await _mint(running.port, 1) == "OK"  # the stricter policy, and APP, still stand
    assert await _mint(running.port, 3) == "PERMISSION_DENIED"
    text = await scrape(running)
    assert value(text, "livetokens_policy_info", sha256=digest) == 1
    await running.stop(1)  # flushes the audit log
    reloads = [
        record
        for record in map(json.loads, audit.read_text().splitlines())
        if record.get("type") == "policy-reload"
    ]
    assert [(r["ok"], r["policy_sha256"]) for r in reloads] == [(True, digest), (False, digest)]


def test_the_signature_follows_the_symlink_chain(tmp_path: pathlib.Path) -> None:
    """Swapping ..data changes the signature even if size and mtime were equal."""
    volume = ConfigMapVolume(tmp_path)
    volume.publish("a = 1\n")
    first = signature(volume.path)
    volume.publish("a = 2\n")
    second = signature(volume.path)
    assert first is not None
    assert second is not None
    assert first[0] != second[0]
    assert second[0].endswith("000000002/policy.toml")
    assert signature(tmp_path / "missing.toml") is None
