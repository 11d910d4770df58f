"""Tamper evidence for the audit log: a keyed hash chain over its lines, and its check.

Every line ends with ``"mac":"<64 hex>"``: HMAC-SHA256 under the audit key of the MAC
of the line before it (in the same chain) followed by the line's own bytes up to the
MAC field. Editing, deleting, reordering or inserting a line breaks the chain at that
line; cutting lines off the end is visible against the next anchor or the log's own
stop record. An **anchor** (``"type":"anchor"``) starts each chain segment: at start-up
(``seq`` 0), after the file was reopened, and after a write failure. It holds ``prev``,
the MAC of the record it follows (null when there is none), so segments link up across
restarts and rotated files. docs/security.md, "Tamper evidence", has the details.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import pathlib
import re
from collections.abc import Sequence
from typing import Any

_MAC_SUFFIX = re.compile(rb',"mac":"([0-9a-f]{64})"\}$')
_KEY_ID_LABEL = b"livetokens audit key id"
_DERIVE_LABEL = b"livetokens audit chain v1"

# `livetokens audit verify` exit codes (docs/security.md).
EXIT_OK = 0
EXIT_BROKEN = 1
EXIT_USAGE = 2


def derive_key(audit_key: bytes | None, fingerprint_key: bytes | None) -> tuple[bytes, str]:
    """The chain key and where it came from: ``LIVETOKENS_AUDIT_KEY``, else derived from
    the fingerprint key (HMAC of a fixed label), else ``""`` meaning none (the caller
    makes a random one)."""
    if audit_key:
        return audit_key, "audit-key"
    if fingerprint_key:
        return hmac.new(fingerprint_key, _DERIVE_LABEL, hashlib.sha256).digest(), "fingerprint-key"
    return b"", ""


def key_id(key: bytes) -> str:
    """A public label of the key, so that a check with the wrong key says so."""
    return "hmac-sha256:" + hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def seal(key: bytes, prev: str, record: dict[str, Any]) -> tuple[bytes, str]:
    """The line for ``record`` (with its MAC appended, and a newline) and that MAC."""
    body = json.dumps(record, separators=(",", ":"), ensure_ascii=True).encode()
    mac = hmac.new(key, prev.encode() + b"\n" + body[:-1], hashlib.sha256).hexdigest()
    return body[:-1] + b',"mac":"' + mac.encode() + b'"}\n', mac


def last_mac(path: pathlib.Path) -> str | None:
    """The MAC of the last complete line of an existing log, or None."""
    try:
        with open(path, "rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - 65536))
            tail = file.read()
    except OSError:
        return None
    lines = tail.rstrip(b"\n").split(b"\n")
    match = _MAC_SUFFIX.search(lines[-1]) if lines and tail.endswith(b"\n") else None
    return match.group(1).decode() if match else None


@dataclasses.dataclass(frozen=True)
class Problem:
    """Something wrong with a log: where, and what."""

    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}"


@dataclasses.dataclass
class Report:
    """What ``verify`` found: records checked, the first break, unclean segment ends."""

    records: int = 0
    problem: Problem | None = None
    open_ends: list[Problem] = dataclasses.field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 intact, 1 broken, 3 intact but with an open end (see docs/security.md)."""
        if self.problem is not None:
            return EXIT_BROKEN
        return EXIT_OPEN_END if self.open_ends else EXIT_OK


EXIT_OPEN_END = 3


@dataclasses.dataclass
class _Line:
    file: str
    number: int
    raw: bytes
    record: dict[str, Any] | None = None
    mac: str = ""
    text: bytes = b""

    @property
    def where(self) -> tuple[str, int]:
        return self.file, self.number


def _parse(file: str, number: int, raw: bytes) -> _Line:
    line = _Line(file, number, raw)
    body = raw.rstrip(b"\n")
    match = _MAC_SUFFIX.search(body)
    try:
        record = json.loads(body)
    except ValueError:
        return line
    if match is None or not isinstance(record, dict) or not isinstance(record.get("seq"), int):
        return line
    line.record, line.mac, line.text = record, match.group(1).decode(), body[: match.start()]
    return line


@dataclasses.dataclass
class _Chain:
    """One writer's chain (one process, between its start anchor and its stop record)."""

    mac: str | None = None
    seq: int = -1
    macs: dict[int, str] = dataclasses.field(default_factory=dict)
    stopped: bool = False
    last: _Line | None = None


class _Verifier:
    def __init__(self, key: bytes) -> None:
        self.key = key
        self.report = Report()
        self.chains: dict[str, _Chain] = {}
        self.seen: set[str] = set()  # every accepted MAC, for start anchors' prev
        self.any = False
        # The first unexplained line: a recovery anchor may still explain a torn one.
        self.suspect: Problem | None = None

    def fail(self, line: _Line, what: str) -> bool:
        if self.suspect is None:
            self.suspect = Problem(line.file, line.number, what)
        return False

    def sealed(self, line: _Line, prev: str | None) -> bool:
        computed = hmac.new(self.key, (prev or "").encode() + b"\n" + line.text, hashlib.sha256)
        return hmac.compare_digest(computed.hexdigest(), line.mac)

    def feed(self, line: _Line) -> bool:
        """Check one line; False once the log is proven broken."""
        record = line.record
        if not line.raw.endswith(b"\n"):
            return self.fail(line, "the last line is incomplete (the log was cut off mid-record)")
        if record is None or not isinstance(record.get("chain"), str):
            self.fail(line, "not a sealed audit record (edited, or not written by livetokens)")
            return self.any  # a torn line inside a log may be explained by a recovery anchor
        seq, name = int(record["seq"]), str(record["chain"])
        if record.get("type") == "anchor":
            return self.anchor(line, record, seq, name)
        chain = self.chains.get(name)
        if chain is None:
            return self.fail(
                line, f"chain {name} does not start with an anchor here (its beginning is missing)"
            )
        if chain.stopped:
            return self.fail(line, f"seq {seq}: a record after chain {name}'s stop record")
        if seq != chain.seq + 1:
            return self.fail(
                line, f"seq {seq} follows seq {chain.seq}: records missing or out of order"
            )
        if not self.sealed(line, chain.mac):
            return self.fail(line, f"seq {seq}: the MAC does not match (the record was edited)")
        self.accept(chain, line, seq)
        chain.stopped = record.get("type") == "stop"
        return True

    def anchor(self, line: _Line, record: dict[str, Any], seq: int, name: str) -> bool:
        expected = key_id(self.key)
        if record.get("key_id") != expected:
            return self.fail(
                line, f"anchor sealed under another key ({record.get('key_id')}, not {expected})"
            )
        prev = record.get("prev")
        prev = prev if isinstance(prev, str) else None
        if not self.sealed(line, prev):
            return self.fail(line, f"anchor seq {seq}: the MAC does not match (edited or moved)")
        chain = self.chains.get(name)
        reason = record.get("reason")
        if reason == "start":
            if chain is not None or seq != 0:
                return self.fail(line, f"a second start of chain {name} (records replayed)")
            if prev is not None and self.any and prev not in self.seen:
                return self.fail(
                    line,
                    "this start anchor does not follow a record of the log "
                    "(records removed, reordered or inserted)",
                )
            chain = self.chains[name] = _Chain()
        elif reason == "recovery":
            lost = record.get("lost_seq") or [0, -1]
            if chain is None or prev != chain.macs.get(int(lost[0]) - 1):
                return self.fail(
                    line, f"recovery anchor seq {seq} does not follow the last record written"
                )
            self.suspect = None  # the torn or lost lines before it are declared
        elif chain is not None:
            if prev != chain.mac or seq != chain.seq + 1:
                return self.fail(
                    line,
                    f"anchor seq {seq} does not follow seq {chain.seq} "
                    "(records missing or out of order)",
                )
        else:
            chain = self.chains[name] = _Chain()  # a reopened file, checked from here
        self.accept(chain, line, seq)
        chain.stopped = False
        return True

    def accept(self, chain: _Chain, line: _Line, seq: int) -> None:
        chain.mac, chain.seq, chain.last = line.mac, seq, line
        chain.macs[seq] = line.mac
        self.seen.add(line.mac)
        self.any = True
        self.report.records += 1


def verify(paths: Sequence[pathlib.Path], key: bytes) -> Report:
    """Check one log, or its rotated files oldest first; raises OSError when unreadable."""
    checker = _Verifier(key)
    for path in paths:
        with open(path, "rb") as file:
            for number, raw in enumerate(file, 1):
                if not checker.feed(_parse(str(path), number, raw)):
                    checker.report.problem = checker.suspect
                    return checker.report
    report = checker.report
    report.problem = checker.suspect
    if report.problem is None and report.records == 0:
        report.problem = Problem(",".join(map(str, paths)) or "-", 0, "no records")
    if report.problem is None:
        for name, chain in checker.chains.items():
            if not chain.stopped and chain.last is not None:
                report.open_ends.append(
                    Problem(
                        chain.last.file,
                        chain.last.number,
                        f"seq {chain.seq} of chain {name}: the run ends without a stop record "
                        "(still being written, it crashed, or records after it were cut off)",
                    )
                )
    return report
