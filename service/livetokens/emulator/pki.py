"""A throwaway certificate authority: the one place livetokens makes test certificates.

Used by the emulator's TLS mode (:func:`livetokens.emulator.loopback_tls`), the test
PKI of tests/security (also used by tests/deploy and tests/state) and the PKI of
tools/with_livetokens.py. EC P-256 keys, SHA-256 signatures, valid from five minutes
ago (clock skew) for ``lifetime``; keys are PKCS#8 PEM without a password.

This module imports the ``cryptography`` package, which livetokens does not need to
mint: it comes with the ``dev`` and ``demo`` extras. Nothing imports it at server run
time; the emulator imports it only when asked for TLS.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import pathlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# A subject alternative name: a GeneralName, or a string read as an IP address, a URI
# (it contains "://", e.g. a SPIFFE ID) or else a DNS name.
SAN = str | x509.GeneralName

_USAGES = {"server": ExtendedKeyUsageOID.SERVER_AUTH, "client": ExtendedKeyUsageOID.CLIENT_AUTH}


@dataclasses.dataclass(frozen=True)
class Issued:
    """A certificate and its private key, as PEM bytes."""

    cert_pem: bytes
    key_pem: bytes

    def write(self, directory: pathlib.Path, stem: str) -> tuple[pathlib.Path, pathlib.Path]:
        """Write ``{stem}.crt`` and ``{stem}.key`` into ``directory``; return both paths."""
        cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
        cert_path.write_bytes(self.cert_pem)
        key_path.write_bytes(self.key_pem)
        return cert_path, key_path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _general_name(san: SAN) -> x509.GeneralName:
    if not isinstance(san, str):
        return san
    try:
        return x509.IPAddress(ipaddress.ip_address(san))
    except ValueError:
        pass
    if "://" in san:
        return x509.UniformResourceIdentifier(san)
    return x509.DNSName(san)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class CertificateAuthority:
    """A new self-signed CA (no intermediates) that issues leaf certificates."""

    def __init__(self, common_name: str, *, lifetime: timedelta = timedelta(days=1)) -> None:
        """Make the CA's key and certificate, valid for ``lifetime``."""
        self._not_before = datetime.now(UTC) - timedelta(minutes=5)
        self._not_after = self._not_before + lifetime
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = _name(common_name)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), False)
            .sign(self._key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        """The CA certificate (public, not a secret) as PEM."""
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        common_name: str,
        sans: Sequence[SAN],
        *,
        usage: Literal["server", "client"] | None = None,
    ) -> Issued:
        """A leaf certificate for ``sans`` (no SAN extension when empty), limited to
        ``usage`` by an extended key usage when given."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), False
            )
        )
        if sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_general_name(san) for san in sans]), critical=False
            )
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([_USAGES[usage]]), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))
