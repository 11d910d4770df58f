"""Fixtures for the security tests: the test PKI, policy files, secure servers."""

from __future__ import annotations

import pathlib

import pytest
from sec_support import PKI, WritePolicy, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    """A CA, a server certificate for 127.0.0.1 and client certificates, made now."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def write_policy(tmp_path: pathlib.Path) -> WritePolicy:
    """Write policy TOML to a file (the same file each time) and return its path."""
    path = tmp_path / "policy.toml"

    def write(text: str) -> pathlib.Path:
        path.write_text(text, encoding="utf-8")
        return path

    return write
