"""Helpers for the security tests: a test PKI made at test time, error-detail decoding."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import pathlib
from collections.abc import Awaitable, Callable, Sequence

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from livetokens.server import RunningServer
from livetokens.server.errors import DOMAIN

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
    authority: _Authority

    def issue(self, stem: str, sans: Sequence[x509.GeneralName]) -> Pair:
        """A new client certificate from the test CA with exactly ``sans``."""
        return self.authority.issue(stem, sans, self.directory, stem)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class _Authority:
    def __init__(self, name: str) -> None:
        now = datetime.datetime.now(datetime.UTC)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )

    def issue(
        self,
        common_name: str,
        sans: Sequence[x509.GeneralName],
        directory: pathlib.Path,
        stem: str,
    ) -> Pair:
        now = datetime.datetime.now(datetime.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        key_pem = _key_pem(key)
        cert_path = directory / f"{stem}.crt"
        key_path = directory / f"{stem}.key"
        cert_path.write_bytes(cert_pem)
        key_path.write_bytes(key_pem)
        return Pair(cert_pem, key_pem, cert_path, key_path)

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def make_pki(directory: pathlib.Path) -> PKI:
    """Generate the whole test PKI into ``directory``."""
    ca = _Authority("livetokens test CA")
    other = _Authority("some other CA")
    ca_path = directory / "ca.crt"
    ca_path.write_bytes(ca.pem)
    localhost = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    return PKI(
        ca=ca.pem,
        ca_path=ca_path,
        server=ca.issue("livetokens", localhost, directory, "server"),
        spiffe_client=ca.issue(
            "frontend", [x509.UniformResourceIdentifier(SPIFFE_ID)], directory, "spiffe"
        ),
        dns_client=ca.issue("billing", [x509.DNSName(DNS_NAME)], directory, "dns"),
        unknown_client=ca.issue(
            "stranger", [x509.UniformResourceIdentifier(UNKNOWN_SPIFFE_ID)], directory, "unknown"
        ),
        no_san_client=ca.issue("nosan", [], directory, "nosan"),
        wrong_ca_client=other.issue(
            "impostor", [x509.UniformResourceIdentifier(SPIFFE_ID)], directory, "impostor"
        ),
        directory=directory,
        authority=ca,
    )


def new_authority_server(directory: pathlib.Path) -> tuple[bytes, Pair]:
    """A new CA and a server certificate for 127.0.0.1 from it (to watch a rotation)."""
    authority = _Authority("rotated CA")
    return authority.pem, authority.issue(
        "livetokens-rotated",
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        directory,
        "rotated",
    )


def client_credentials(pki: PKI, client: Pair | None) -> grpc.ChannelCredentials:
    """Channel credentials trusting the test CA, presenting ``client`` when given."""
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=pki.ca)
    return grpc.ssl_channel_credentials(
        root_certificates=pki.ca, private_key=client.key, certificate_chain=client.cert
    )


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
