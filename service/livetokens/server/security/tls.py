"""Server TLS credentials from PEM files, following certificate rotation.

SPIFFE certificates live for hours, so the files are re-read when they change: gRPC
asks :class:`RotatingCredentials` before each new connection's handshake, which looks
at the files' modification times and, when they changed, loads them only if the key
matches the certificate (a rotation caught half-written keeps the old pair).
Connections already open keep the certificate they started with.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import pathlib
import ssl
from collections.abc import Callable, Mapping
from typing import Any

import grpc

log = logging.getLogger(__name__)


class TLSError(ValueError):
    """A certificate, key or CA file is missing or not valid; the message names it."""


@dataclasses.dataclass(frozen=True)
class _Material:
    cert: bytes
    key: bytes
    client_ca: bytes | None
    stamp: tuple[tuple[int, int], ...]


def _stamp(paths: tuple[pathlib.Path, ...]) -> tuple[tuple[int, int], ...]:
    stats = [path.stat() for path in paths]
    return tuple((s.st_mtime_ns, s.st_size) for s in stats)


def _read(path: pathlib.Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TLSError(f"{what} {path}: cannot read it ({exc.strerror})") from None
    if b"-----BEGIN " not in data:
        raise TLSError(f"{what} {path}: not a PEM file")
    return data


def _load(
    cert_path: pathlib.Path, key_path: pathlib.Path, ca_path: pathlib.Path | None
) -> _Material:
    """Read the files and check them with the standard library's TLS.

    The files are read, checked by path, and read again: only when both reads agree
    are the bytes the ones that were checked.
    """
    paths = (cert_path, key_path) + ((ca_path,) if ca_path else ())
    try:
        stamp = _stamp(paths)
    except OSError as exc:
        raise TLSError(f"{exc.filename}: cannot read it ({exc.strerror})") from None
    first = [
        _read(cert_path, "TLS certificate"),
        _read(key_path, "TLS key"),
        _read(ca_path, "client CA bundle") if ca_path else b"",
    ]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert_path, key_path)
    except ssl.SSLError as exc:
        raise TLSError(
            f"TLS certificate {cert_path} and key {key_path} do not form a valid pair "
            f"({exc.reason or exc})"
        ) from None
    except OSError as exc:
        raise TLSError(f"TLS certificate or key: cannot read it ({exc.strerror})") from None
    if ca_path:
        try:
            context.load_verify_locations(cadata=first[2].decode("ascii", "replace"))
        except (ssl.SSLError, ValueError) as exc:
            raise TLSError(f"client CA bundle {ca_path}: not valid ({exc})") from None
    second = [
        _read(cert_path, "TLS certificate"),
        _read(key_path, "TLS key"),
        _read(ca_path, "client CA bundle") if ca_path else b"",
    ]
    if first != second:
        raise TLSError("the TLS files changed while they were being read; try again")
    return _Material(first[0], first[1], first[2] or None, stamp)


class RotatingCredentials:
    """The server's TLS credentials; ``credentials`` goes to ``add_secure_port``."""

    def __init__(
        self,
        cert: pathlib.Path,
        key: pathlib.Path,
        client_ca: pathlib.Path | None = None,
    ) -> None:
        """Load the files; raises :class:`TLSError` when they are not usable."""
        self._paths = (cert, key, client_ca)
        self._material = _load(cert, key, client_ca)
        self.mutual = client_ca is not None
        self.reloads = 0
        # Called with an audit record for each reload and refused reload (any thread).
        self.on_reload: Callable[[Mapping[str, Any]], None] | None = None
        # The stamp of files that failed to load: warn once, not at every handshake.
        self._failed: tuple[tuple[int, int], ...] | None = None
        self.credentials = grpc.dynamic_ssl_server_credentials(
            self._configuration(self._material),
            # The stubs say the fetcher must return a configuration; gRPC documents None
            # as "keep the current one".
            self._fetch,  # type: ignore[arg-type]
            require_client_authentication=self.mutual,
        )

    @staticmethod
    def _configuration(material: _Material) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(material.key, material.cert)], root_certificates=material.client_ca
        )

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC before each handshake: a new configuration, or None to keep
        the current one. Never raises (it runs inside gRPC's core)."""
        cert, key, ca = self._paths
        try:
            paths = (cert, key) + ((ca,) if ca else ())
            stamp = _stamp(paths)
            if stamp in (self._material.stamp, self._failed):
                return None
            try:
                material = _load(cert, key, ca)
            except TLSError as exc:
                self._failed = stamp
                log.warning("TLS files changed but are not usable; keeping the old ones: %s", exc)
                self._event({"ok": False, "error": str(exc)[:500]})
                return None
        except OSError as exc:
            log.warning("TLS files cannot be checked (%s); keeping the old ones", exc.strerror)
            return None
        except Exception:  # an exception must not escape into gRPC's core
            log.exception("TLS reload failed; keeping the old certificate")
            return None
        self._material = material
        self.reloads += 1
        log.info("TLS certificate reloaded from %s", cert)
        self._event({"ok": True, "cert_sha256": hashlib.sha256(material.cert).hexdigest()})
        return self._configuration(material)

    def _event(self, fields: Mapping[str, Any]) -> None:
        if self.on_reload is not None:
            when = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
            self.on_reload({"type": "tls-reload", "time": when.replace("+00:00", "Z"), **fields})
