"""Start-up refuses unsafe or broken security settings; flags and environment parse;
SIGHUP reloads the policy without dropping requests in flight."""

from __future__ import annotations

import asyncio
import io
import os
import pathlib
import signal
import sys

import grpc
import pytest
from lt_support import port_written
from sec_support import PKI, StartServer, WritePolicy, details

from livetokens.emulator import Emulator, Fault
from livetokens.server.cli import main
from livetokens.server.fingerprint import Fingerprinter
from livetokens.server.security.policy import hash_secret
from livetokens.server.security.runtime import build_security, is_loopback
from livetokens.server.settings import SecuritySettings, SettingsError, from_env
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

FINGERPRINT = Fingerprinter(b"k")
SECRET = "startup-test-secret-0123456789abcdef0123456789"
BEARER_POLICY = f'[callers.a]\ncredentials = ["{hash_secret(SECRET)}"]\n'


def build(listen: str, **settings: object) -> str:
    """build_security without binding anything; returns its one-line description."""
    security = build_security(listen, SecuritySettings(**settings), fingerprint=FINGERPRINT)
    return security.describe()


def test_insecure_no_auth_is_refused_on_a_non_loopback_address() -> None:
    """--insecure-no-auth on 0.0.0.0 without the second flag: refused, naming that flag."""
    with pytest.raises(SettingsError, match="--insecure-allow-non-loopback"):
        build("0.0.0.0:50051", insecure_no_auth=True)


async def test_create_server_refuses_insecure_on_a_non_loopback_address(
    start_server: StartServer,
) -> None:
    """The refusal happens in create_server too, before anything is bound."""
    with pytest.raises(SettingsError, match="only allowed on a loopback address"):
        await start_server(listen="0.0.0.0:0", security=SecuritySettings(insecure_no_auth=True))


def test_the_second_flag_allows_insecure_on_a_non_loopback_address() -> None:
    """Both flags together are an explicit, loud choice."""
    description = build("0.0.0.0:50051", insecure_no_auth=True, insecure_allow_non_loopback=True)
    assert description.startswith("PLAINTEXT, NO caller authentication")


def test_plaintext_on_a_non_loopback_address_needs_tls_or_the_second_flag(
    write_policy: WritePolicy,
) -> None:
    """Bearer secrets over plaintext on a network address: refused without the flag."""
    policy = write_policy(BEARER_POLICY)
    with pytest.raises(SettingsError, match="not a loopback address and TLS is not configured"):
        build("10.1.2.3:50051", policy_file=policy)
    assert "callers by bearer" in build(
        "10.1.2.3:50051", policy_file=policy, insecure_allow_non_loopback=True
    )


def test_no_way_to_authenticate_is_refused() -> None:
    """Default security settings authenticate nobody: the server does not start."""
    with pytest.raises(SettingsError, match="no way for callers to authenticate"):
        build("127.0.0.1:0")


def test_tls_without_client_ca_or_bearer_is_refused(pki: PKI) -> None:
    """Server-only TLS with no caller credentials configured is still an open door."""
    with pytest.raises(SettingsError, match="no way for callers to authenticate"):
        build("127.0.0.1:0", tls_cert=pki.server.cert_path, tls_key=pki.server.key_path)


def test_a_key_that_does_not_match_the_certificate_is_refused(pki: PKI) -> None:
    """The stdlib TLS check catches a mismatched pair with a clear message."""
    with pytest.raises(SettingsError, match="do not form a valid pair"):
        build(
            "127.0.0.1:0",
            tls_cert=pki.server.cert_path,
            tls_key=pki.spiffe_client.key_path,
            tls_client_ca=pki.ca_path,
        )


def test_missing_tls_files_are_named(pki: PKI, tmp_path: pathlib.Path) -> None:
    """A missing certificate file is named in the error."""
    with pytest.raises(SettingsError, match=r"missing\.crt"):
        build(
            "127.0.0.1:0",
            tls_cert=tmp_path / "missing.crt",
            tls_key=pki.server.key_path,
            tls_client_ca=pki.ca_path,
        )


def test_a_client_ca_that_is_not_pem_is_refused(pki: PKI, tmp_path: pathlib.Path) -> None:
    """A CA bundle must be PEM."""
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(SettingsError, match="client CA bundle"):
        build(
            "127.0.0.1:0",
            tls_cert=pki.server.cert_path,
            tls_key=pki.server.key_path,
            tls_client_ca=bad,
        )


def test_an_invalid_policy_stops_start_up_with_its_line(write_policy: WritePolicy) -> None:
    """A policy mistake at start-up is a SettingsError with file and line."""
    policy = write_policy("[callers.a]\nmax_uses = 'many'\n")
    with pytest.raises(SettingsError, match=r"policy\.toml:2: \[callers\.\"a\"\] max_uses"):
        build("127.0.0.1:0", policy_file=policy, insecure_no_auth=True)


def test_a_bad_trusted_proxy_is_refused() -> None:
    """Trusted proxies must be addresses or CIDR ranges."""
    with pytest.raises(SettingsError, match="not an IP address or CIDR range"):
        build("127.0.0.1:0", trusted_proxies=("sidecar.local",))


def test_describe_says_what_protects_the_port(pki: PKI, write_policy: WritePolicy) -> None:
    """The start-up line names the transport, the methods, the policy and the audit log."""
    description = build(
        "127.0.0.1:0",
        tls_cert=pki.server.cert_path,
        tls_key=pki.server.key_path,
        tls_client_ca=pki.ca_path,
        policy_file=write_policy(BEARER_POLICY),
        trusted_proxies=("127.0.0.1",),
    )
    assert description.startswith("TLS with client certificates (mutual TLS), callers by ")
    assert "mtls+bearer+proxy" in description
    assert "NO audit log" in description


@pytest.mark.parametrize(
    ("listen", "loopback"),
    [
        ("127.0.0.1:1", True),
        ("127.9.9.9:1", True),
        ("[::1]:1", True),
        ("localhost:1", True),
        ("0.0.0.0:1", False),
        ("[::]:1", False),
        ("10.0.0.1:1", False),
        ("example.org:1", False),
    ],
)
def test_loopback_detection(listen: str, loopback: bool) -> None:
    """Only loopback addresses (and `localhost`) count as loopback."""
    assert is_loopback(listen) is loopback


# --- settings from the environment and flags ----------------------------------------------


def test_security_settings_come_from_the_environment() -> None:
    """Every LIVETOKENS_* security variable reaches SecuritySettings."""
    settings = from_env(
        {
            "LIVETOKENS_TLS_CERT": "/c.pem",
            "LIVETOKENS_TLS_KEY": "/k.pem",
            "LIVETOKENS_TLS_CLIENT_CA": "/ca.pem",
            "LIVETOKENS_POLICY": "/p.toml",
            "LIVETOKENS_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
            "LIVETOKENS_IDENTITY_HEADER": "X-Client-Id",
            "LIVETOKENS_INSECURE_NO_AUTH": "true",
            "LIVETOKENS_INSECURE_ALLOW_NON_LOOPBACK": "1",
            "LIVETOKENS_AUDIT_LOG": "/var/log/lt.jsonl",
            "LIVETOKENS_AUDIT_FSYNC": "false",
            "LIVETOKENS_AUDIT_FAIL_OPEN": "yes",
        }
    ).security
    assert settings == SecuritySettings(
        tls_cert=pathlib.Path("/c.pem"),
        tls_key=pathlib.Path("/k.pem"),
        tls_client_ca=pathlib.Path("/ca.pem"),
        policy_file=pathlib.Path("/p.toml"),
        trusted_proxies=("127.0.0.1", "10.0.0.0/8"),
        identity_header="x-client-id",
        insecure_no_auth=True,
        insecure_allow_non_loopback=True,
        audit_log=pathlib.Path("/var/log/lt.jsonl"),
        audit_fsync=False,
        audit_fail_open=True,
    )


def test_flags_win_over_the_environment() -> None:
    """Overrides (from flags) replace the environment's values; None falls through."""
    settings = from_env(
        {"LIVETOKENS_POLICY": "/env.toml", "LIVETOKENS_AUDIT_FSYNC": "true"},
        policy_file="/flag.toml",
        audit_fsync=False,
        insecure_no_auth=None,
    ).security
    assert settings.policy_file == pathlib.Path("/flag.toml")
    assert settings.audit_fsync is False
    assert settings.insecure_no_auth is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"LIVETOKENS_INSECURE_NO_AUTH": "maybe"}, "must be true or false"),
        ({"LIVETOKENS_TLS_CERT": "/c.pem"}, "both a certificate and a key"),
        ({"LIVETOKENS_TLS_CLIENT_CA": "/ca.pem"}, "--tls-client-ca needs --tls-cert"),
        ({"LIVETOKENS_IDENTITY_HEADER": "x bad"}, "must be a header name"),
    ],
)
def test_bad_security_environment_is_refused(env: dict[str, str], message: str) -> None:
    """Invalid values are SettingsErrors naming the problem."""
    with pytest.raises(SettingsError, match=message):
        from_env(env)


def test_the_serve_command_refuses_insecure_on_a_non_loopback_address(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`livetokens serve --listen 0.0.0.0:0 --insecure-no-auth` exits 2 with the reason."""
    monkeypatch.setenv("GEMINI_API_KEY", "not-used-0123456789")
    for name in list(os.environ):
        if name.startswith("LIVETOKENS_"):
            monkeypatch.delenv(name)
    code = main(["serve", "--listen", "0.0.0.0:0", "--insecure-no-auth"])
    assert code == 2
    assert "--insecure-allow-non-loopback" in capsys.readouterr().err


def test_hash_secret_prints_the_policy_form(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`livetokens hash-secret` reads stdin and prints sha256:<hex>; --generate makes one."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("my-secret\n"))
    assert main(["hash-secret"]) == 0
    assert capsys.readouterr().out.strip() == hash_secret("my-secret")
    assert main(["hash-secret", "--generate"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == hash_secret(captured.err.strip())
    assert len(captured.err.strip()) >= 43


# --- reload --------------------------------------------------------------------------------


async def mint_as(port: int, request: ts.TokenRequest) -> ts.Token | grpc.aio.AioRpcError:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = ts_grpc.TokenServiceStub(channel)
        try:
            token: ts.Token = await stub.MintToken(
                request, timeout=10, metadata=(("authorization", f"Bearer {SECRET}"),)
            )
        except grpc.aio.AioRpcError as error:
            return error
        return token


async def test_reload_applies_a_new_policy_without_dropping_a_request_in_flight(
    start_server: StartServer, write_policy: WritePolicy, emulator: Emulator
) -> None:
    """A mint waiting on Google finishes under its policy; the next one gets the new one;
    an invalid file is refused and the new policy stays."""
    policy = write_policy(BEARER_POLICY + "max_uses = 5\n")
    running = await start_server(security=SecuritySettings(policy_file=policy))
    emulator.faults.push(Fault.latency(0.5))
    in_flight = asyncio.create_task(mint_as(running.port, ts.TokenRequest(uses=3)))
    while not emulator.requests:  # noqa: ASYNC110 - wait until Google has the request
        await asyncio.sleep(0.01)
    write_policy(BEARER_POLICY + "max_uses = 2\n")
    assert await running.reload() is True
    assert isinstance(await in_flight, ts.Token)
    refused = await mint_as(running.port, ts.TokenRequest(uses=3))
    assert isinstance(refused, grpc.aio.AioRpcError)
    assert details(refused).metadata["rule"] == "max_uses"
    write_policy("[callers.a]\nmax_uses = 'two'\n")
    assert await running.reload() is False
    assert isinstance(await mint_as(running.port, ts.TokenRequest(uses=2)), ts.Token)


async def test_sighup_reloads_the_policy_of_a_running_process(
    write_policy: WritePolicy, tmp_path: pathlib.Path
) -> None:
    """`kill -HUP` on `livetokens serve`: the new policy applies to the next mint."""
    policy = write_policy(BEARER_POLICY)
    port_file = tmp_path / "port"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMINI_", "LIVETOKENS_"))}
    env.update(LIVETOKENS_ADMIN_LISTEN="off", LIVETOKENS_HEALTH_LISTEN="off")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "livetokens.server",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--policy",
        str(policy),
        "--emulator",
        "--port-file",
        str(port_file),
        env=env,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(30):
            await port_written(port_file)
            port = int(port_file.read_text())
            assert isinstance(await mint_as(port, ts.TokenRequest(uses=3)), ts.Token)
            write_policy(BEARER_POLICY + "max_uses = 1\n")
            process.send_signal(signal.SIGHUP)
            # Polls the other process over RPC until the signal has been handled.
            while isinstance(outcome := await mint_as(port, ts.TokenRequest(uses=3)), ts.Token):  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            assert details(outcome).reason == "POLICY_DENIED"
            process.send_signal(signal.SIGTERM)
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
