"""A throwaway PKI for tools/with_livetokens.py: a CA, a server certificate for
127.0.0.1/localhost and a client certificate, written as PEM files (keys PKCS#8, mode
0600), made by livetokens.emulator.pki."""

from __future__ import annotations

import dataclasses
import pathlib

from livetokens.emulator.pki import CertificateAuthority

CLIENT_DNS_NAME = "consumer.livetokens.test"


@dataclasses.dataclass(frozen=True)
class HarnessPKI:
    """Paths of the PEM files."""

    ca: pathlib.Path
    server_cert: pathlib.Path
    server_key: pathlib.Path
    client_cert: pathlib.Path
    client_key: pathlib.Path


def make_pki(directory: pathlib.Path) -> HarnessPKI:
    """Generate the CA and both certificates (valid for one day) into ``directory``."""
    ca = CertificateAuthority("with_livetokens test CA")
    (directory / "ca.crt").write_bytes(ca.pem)
    server = ca.issue("livetokens", ["127.0.0.1", "localhost"], usage="server")
    server_cert, server_key = server.write(directory, "server")
    client = ca.issue("consumer", [CLIENT_DNS_NAME], usage="client")
    client_cert, client_key = client.write(directory, "client")
    for key in (server_key, client_key):
        key.chmod(0o600)
    return HarnessPKI(
        ca=directory / "ca.crt",
        server_cert=server_cert,
        server_key=server_key,
        client_cert=client_cert,
        client_key=client_key,
    )
