"""The chart's configuration, run for real: the container that `helm template` renders
(its args, env and volume mounts, with each mount mapped to a local directory filled the
way Kubernetes would fill it) starts livetokens, its probes answer on the admin
listeners, a caller named by the chart's SPIFFE id template mints over mutual TLS, and on
SIGTERM the readiness probe sees NOT_SERVING while MintToken is still served, then the
process exits within terminationGracePeriodSeconds."""

from __future__ import annotations

import asyncio
import pathlib
import re
import signal
import sys
import time
import urllib.request
from typing import Any

import grpc
import pytest
from deploy_support import REPO, child, clean_env, render, wait_for_port_file
from grpc_health.v1 import health_pb2, health_pb2_grpc

from livetokens.server.cli import build_parser
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

sys.path.insert(0, str(REPO / "tests" / "security"))
from sec_support import PKI, client_credentials, make_pki

# The chart's default caller may mint this model only.
REQUEST = ts.TokenRequest(constraints=ts.LiveConstraints(model="gemini-live-2.5-flash-preview"))
# Loopback and free ports instead of the pod IP and fixed ports; the emulator instead of
# Google; the SPIFFE trust domain of the test PKI; port files to find the ports.
RUN_VALUES = [
    "grpc.bindAddress=127.0.0.1",
    "grpc.port=0",
    "admin.httpPort=0",
    "admin.healthPort=0",
    "upstream.emulator=true",
    "policy.trustDomain=example.org",
    "drain.drainDelay=3",
    "drain.gracePeriod=5",
]


def pod(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pod spec, livetokens container) of the rendered Deployment."""
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    (container,) = [c for c in spec["containers"] if c["name"] == "livetokens"]
    return spec, container


def materialise(
    docs: list[dict[str, Any]], root: pathlib.Path, pki: PKI
) -> tuple[list[str], dict[str, str], int]:
    """The container's args and env with every volume mount mapped under ``root`` and
    filled as the kubelet would; and terminationGracePeriodSeconds."""
    spec, container = pod(docs)
    volumes = {v["name"]: v for v in spec["volumes"]}
    (configmap,) = [d for d in docs if d["kind"] == "ConfigMap"]
    mapping: dict[str, str] = {}
    for mount in container["volumeMounts"]:
        local = root / mount["name"]
        local.mkdir(parents=True)
        mapping[mount["mountPath"]] = str(local)
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            # The kubelet's layout: files are symlinks into ..data, itself a symlink.
            data = local / "..2026_11_29_00_00_00.000000001"
            data.mkdir()
            for key, value in configmap["data"].items():
                (data / key).write_text(value)
                (local / key).symlink_to(pathlib.Path("..data") / key)
            (local / "..data").symlink_to(data.name)
        elif "secret" in volume:
            name = volume["secret"]["secretName"]
            if name.endswith("tls"):
                (local / "tls.crt").write_bytes(pki.server.cert)
                (local / "tls.key").write_bytes(pki.server.key)
                (local / "ca.crt").write_bytes(pki.ca)
            else:
                for item in volume["secret"]["items"]:
                    (local / item["path"]).write_text(f"{name}-value-for-the-test")

    # One pass, longest mount path first, each only as a whole path component.
    mounts = sorted(mapping, key=len, reverse=True)
    pattern = re.compile("|".join(rf"(?<![\w/]){re.escape(m)}(?=/|$)" for m in mounts))

    def local(text: str) -> str:
        text = pattern.sub(lambda match: mapping[match.group(0)], text)
        return text.replace("$(POD_IP)", "127.0.0.1")

    args = [local(a) for a in container["args"]]
    env = {e["name"]: local(e["value"]) for e in container["env"] if "value" in e}
    return args, env, int(spec["terminationGracePeriodSeconds"])


def http_status(port: int, path: str) -> int:
    """The HTTP status of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.parametrize("values", [(), ("values-mesh.yaml",)], ids=["default", "mesh"])
def test_rendered_arguments_are_flags_livetokens_accepts(values: tuple[str, ...]) -> None:
    """Every argument the chart renders parses with `livetokens serve`'s own parser."""
    optional = ["otlpEndpoint=http://otel-collector:4317", "upstream.url=https://example.org"]
    _, container = pod(render(*values, set_values=optional))
    args = [a.replace("$(POD_IP)", "10.0.0.7") for a in container["args"]]
    assert build_parser().parse_args(["serve", *args]).command == "serve"


@pytest.mark.timeout(120)
async def test_the_rendered_container_serves_probes_mints_and_drains(
    tmp_path: pathlib.Path,
) -> None:
    """The chart's container config runs: probes green, a policy caller mints over mTLS,
    SIGTERM → readiness NOT_SERVING while MintToken still works → exit 0 in time."""
    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    docs = render(set_values=RUN_VALUES)
    args, env, termination_grace = materialise(docs, tmp_path / "pod", pki)
    port_file, admin_file = tmp_path / "port", tmp_path / "admin-ports"
    command = [sys.executable, "-m", "livetokens.server", "serve", *args]
    command += ["--port-file", str(port_file), "--admin-port-file", str(admin_file)]
    async with child(*command, env=clean_env(**env)) as server:
        port = await wait_for_port_file(port_file, server)
        http_port, health_port = (int(p) for p in admin_file.read_text().split())
        assert await asyncio.to_thread(http_status, http_port, "/livez") == 200
        assert await asyncio.to_thread(http_status, http_port, "/readyz") == 200
        async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as admin:
            health = health_pb2_grpc.HealthStub(admin)
            check = health_pb2.HealthCheckRequest(service="")
            answer = await health.Check(check, timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
            credentials = client_credentials(pki, pki.spiffe_client)
            async with grpc.aio.secure_channel(f"localhost:{port}", credentials) as channel:
                stub = ts_grpc.TokenServiceStub(channel)
                token = await stub.MintToken(REQUEST, timeout=10)
                assert token.name.startswith("auth_tokens/")
                started = time.monotonic()
                server.process.send_signal(signal.SIGTERM)
                not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
                for _ in range(100):  # 5 s at most
                    if (await health.Check(check, timeout=2)).status == not_serving:
                        break
                    await asyncio.sleep(0.05)
                else:
                    pytest.fail("readiness never reported NOT_SERVING after SIGTERM")
                # Inside the drain delay: endpoints are being removed, calls still served.
                during_drain = await stub.MintToken(REQUEST, timeout=10)
                assert during_drain.name.startswith("auth_tokens/")
        code = await asyncio.wait_for(server.process.wait(), termination_grace)
        assert code == 0
        assert time.monotonic() - started < termination_grace
    assert token.name not in server.stderr
    (audit,) = [pathlib.Path(a.partition("=")[2]) for a in args if a.startswith("--audit-log=")]
    assert "spiffe://example.org/ns/web/sa/frontend" in audit.read_text()
