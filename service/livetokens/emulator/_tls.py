"""A throwaway certificate authority and a loopback server certificate for the emulator's TLS.

google-genai's Live client always speaks ``wss``, so an emulator that a real SDK can
reach needs TLS. :func:`loopback_tls` makes a fresh CA and a certificate for
``localhost``, ``127.0.0.1`` and ``::1`` (EC P-256, valid for one day), kept only in
memory and in files the caller chooses, and returns the server context plus a client
context that trusts exactly that CA.

It needs the ``cryptography`` package, which livetokens does not need to mint: it
comes with the ``dev`` and ``demo`` extras (``pip install 'livetokens[demo]'``). An
emulator can also be given any certificate as an ``ssl.SSLContext``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import pathlib
import ssl
import tempfile
from datetime import UTC, datetime, timedelta


class TLSUnavailable(RuntimeError):
    """The ``cryptography`` package, needed to make certificates, is not installed."""


@dataclasses.dataclass(frozen=True)
class LoopbackTLS:
    """A CA and a server certificate for loopback, as PEM bytes and ready contexts.

    ``server`` serves the certificate; ``client`` verifies it against ``ca_pem`` only.
    ``ca_pem`` is what another process needs (``NODE_EXTRA_CA_CERTS``, ``--ca``).
    """

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    server: ssl.SSLContext
    client: ssl.SSLContext

    def write_ca(self, path: pathlib.Path) -> pathlib.Path:
        """Write the CA certificate (public, not a secret) to ``path`` and return it."""
        path.write_bytes(self.ca_pem)
        return path


def loopback_tls(*, lifetime: timedelta = timedelta(days=1)) -> LoopbackTLS:
    """A new CA and a server certificate for localhost/127.0.0.1/::1. Raises
    :class:`TLSUnavailable` when ``cryptography`` is missing."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as exc:  # pragma: no cover - dev installs always have it
        raise TLSUnavailable(
            "the emulator's TLS mode makes its certificate with the 'cryptography' "
            "package: pip install 'livetokens[demo]'"
        ) from exc

    now = datetime.now(UTC) - timedelta(minutes=5)  # tolerate a little clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "livetokens emulator test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return LoopbackTLS(
        ca_pem=ca_pem,
        cert_pem=cert_pem,
        key_pem=key_pem,
        server=server_context(cert_pem, key_pem),
        client=client_context(ca_pem),
    )


def server_context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    """A TLS server context for a PEM certificate chain and key (TLS 1.2 or later)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # ssl loads certificates only from files: write them to a private temporary
    # directory that is removed at once.
    with tempfile.TemporaryDirectory(prefix="livetokens-tls-") as tmp:
        cert_file, key_file = pathlib.Path(tmp, "cert.pem"), pathlib.Path(tmp, "key.pem")
        cert_file.write_bytes(cert_pem)
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context


def client_context(ca_pem: bytes) -> ssl.SSLContext:
    """A TLS client context that trusts only ``ca_pem`` and checks the host name."""
    context = ssl.create_default_context(cadata=ca_pem.decode("ascii"))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
