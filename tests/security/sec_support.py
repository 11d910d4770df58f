"""Helpers for the security tests: a test PKI made at test time, error-detail decoding."""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
from collections.abc import Awaitable, Callable, Sequence

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from livetokens.emulator.pki import SAN, CertificateAuthority
from livetokens.server import RunningServer
from livetokens.server.errors import DOMAIN
from livetokens.v1 import token_service_pb2 as ts
from livetokens.v1 import token_service_pb2_grpc as ts_grpc

SPIFFE_ID = "spiffe://example.org/ns/web/sa/frontend"
DNS_NAME = "billing.internal.example.org"
UNKNOWN_SPIFFE_ID = "spiffe://example.org/ns/web/sa/stranger"

# The write_policy fixture: write TOML to the test's policy file, return its path.
WritePolicy = Callable[[str], pathlib.Path]
# The start_server fixture of tests/conftest.py: Settings overrides → a RunningServer.
StartServer = Callable[..., Awaitable[RunningServer]]


@dataclasses.dataclass(frozen=True)
class Pair:
    """A certificate and its key, as PEM bytes and as files."""

    cert: bytes
    key: bytes
    cert_path: pathlib.Path
    key_path: pathlib.Path


@dataclasses.dataclass(frozen=True)
class PKI:
    """A test CA, a server certificate for 127.0.0.1, and client certificates."""

    ca: bytes
    ca_path: pathlib.Path
    server: Pair
    spiffe_client: Pair
    dns_client: Pair
    unknown_client: Pair
    no_san_client: Pair
    wrong_ca_client: Pair
    directory: pathlib.Path
    authority: CertificateAuthority

    def issue(self, stem: str, sans: Sequence[SAN]) -> Pair:
        """A new client certificate from the test CA with exactly ``sans``."""
        return _issue(self.authority, stem, sans, self.directory, stem)


def _issue(
    authority: CertificateAuthority,
    common_name: str,
    sans: Sequence[SAN],
    directory: pathlib.Path,
    stem: str,
) -> Pair:
    issued = authority.issue(common_name, sans)
    cert_path, key_path = issued.write(directory, stem)
    return Pair(issued.cert_pem, issued.key_pem, cert_path, key_path)


def make_pki(directory: pathlib.Path) -> PKI:
    """Generate the whole test PKI into ``directory``."""
    ca = CertificateAuthority("livetokens test CA")
    other = CertificateAuthority("some other CA")
    ca_path = directory / "ca.crt"
    ca_path.write_bytes(ca.pem)
    return PKI(
        ca=ca.pem,
        ca_path=ca_path,
        server=_issue(ca, "livetokens", ["127.0.0.1", "localhost"], directory, "server"),
        spiffe_client=_issue(ca, "frontend", [SPIFFE_ID], directory, "spiffe"),
        dns_client=_issue(ca, "billing", [DNS_NAME], directory, "dns"),
        unknown_client=_issue(ca, "stranger", [UNKNOWN_SPIFFE_ID], directory, "unknown"),
        no_san_client=_issue(ca, "nosan", [], directory, "nosan"),
        wrong_ca_client=_issue(other, "impostor", [SPIFFE_ID], directory, "impostor"),
        directory=directory,
        authority=ca,
    )


def new_authority_server(directory: pathlib.Path) -> tuple[bytes, Pair]:
    """A new CA and a server certificate for 127.0.0.1 from it (to watch a rotation)."""
    authority = CertificateAuthority("rotated CA")
    return authority.pem, _issue(
        authority, "livetokens-rotated", ["127.0.0.1"], directory, "rotated"
    )


def client_credentials(pki: PKI, client: Pair | None) -> grpc.ChannelCredentials:
    """Channel credentials trusting the test CA, presenting ``client`` when given."""
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=pki.ca)
    return grpc.ssl_channel_credentials(
        root_certificates=pki.ca, private_key=client.key, certificate_chain=client.cert
    )


async def mint_over(
    port: int,
    credentials: grpc.ChannelCredentials | None,
    metadata: tuple[tuple[str, str], ...] = (),
) -> ts.Token:
    """One MintToken over a fresh channel to 127.0.0.1:``port`` (TLS when
    ``credentials`` is given); raises the call's AioRpcError."""
    target = f"127.0.0.1:{port}"
    channel = (
        grpc.aio.secure_channel(target, credentials)
        if credentials is not None
        else grpc.aio.insecure_channel(target)
    )
    async with channel:
        token: ts.Token = await ts_grpc.TokenServiceStub(channel).MintToken(
            ts.TokenRequest(), timeout=10, metadata=metadata
        )
        return token


@dataclasses.dataclass(frozen=True)
class Details:
    """Everything a livetokens error says."""

    code: grpc.StatusCode
    message: str
    reason: str
    metadata: dict[str, str]
    fields: list[str]
    descriptions: list[str]
    retry_delay: datetime.timedelta | None
    quota_subjects: list[str]
    raw: str


def details(error: grpc.aio.AioRpcError) -> Details:
    """Decode the status details of a failed call (asserting the ErrorInfo domain)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"no rich status on {error.code()}: {error.details()}"
    reason, metadata, fields, descriptions, subjects = "", {}, [], [], []
    retry = None
    for any_detail in status.details:
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        quota = error_details_pb2.QuotaFailure()
        retry_info = error_details_pb2.RetryInfo()
        if any_detail.Unpack(info):
            assert info.domain == DOMAIN
            reason, metadata = info.reason, dict(info.metadata)
        elif any_detail.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
            descriptions += [v.description for v in bad.field_violations]
        elif any_detail.Unpack(quota):
            subjects += [v.subject for v in quota.violations]
        elif any_detail.Unpack(retry_info):
            retry = retry_info.retry_delay.ToTimedelta()
    return Details(
        code=error.code(),
        message=status.message,
        reason=reason,
        metadata=metadata,
        fields=fields,
        descriptions=descriptions,
        retry_delay=retry,
        quota_subjects=subjects,
        raw=str(status),
    )
