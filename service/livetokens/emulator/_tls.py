"""A throwaway certificate authority and a loopback server certificate for the emulator's TLS.

google-genai's Live client always speaks ``wss``, so an emulator that a real SDK can
reach needs TLS. :func:`loopback_tls` makes a fresh CA and a certificate for
``localhost``, ``127.0.0.1`` and ``::1`` (EC P-256, valid for one day), kept only in
memory and in files the caller chooses, and returns the server context plus a client
context that trusts exactly that CA.

It makes them with :mod:`livetokens.emulator.pki`, which needs the ``cryptography``
package, imported only here and only when called; livetokens does not need it to mint. It
comes with the ``dev`` and ``demo`` extras (``pip install 'livetokens[demo]'``). An
emulator can also be given any certificate as an ``ssl.SSLContext``.
"""

from __future__ import annotations

import dataclasses
import pathlib
import ssl
import tempfile
from datetime import timedelta


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
        from livetokens.emulator.pki import CertificateAuthority
    except ImportError as exc:  # pragma: no cover - dev installs always have it
        raise TLSUnavailable(
            "the emulator's TLS mode makes its certificate with the 'cryptography' "
            "package: pip install 'livetokens[demo]'"
        ) from exc

    ca = CertificateAuthority("livetokens emulator test CA", lifetime=lifetime)
    leaf = ca.issue("localhost", ["localhost", "127.0.0.1", "::1"], usage="server")
    return LoopbackTLS(
        ca_pem=ca.pem,
        cert_pem=leaf.cert_pem,
        key_pem=leaf.key_pem,
        server=server_context(leaf.cert_pem, leaf.key_pem),
        client=client_context(ca.pem),
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
