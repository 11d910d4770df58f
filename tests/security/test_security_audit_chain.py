"""The tamper-evident audit log: each record sealed with an HMAC chained to the one before,
anchors at start-up and reopen, reloads recorded, and `livetokens audit verify` naming the
first edited, truncated, reordered or deleted record."""

from __future__ import annotations

import json
import os
import pathlib

import pytest
from sec_support import PKI, StartServer, WritePolicy, new_authority_server

from livetokens.server.cli import main
from livetokens.server.security import audit as audit_module
from livetokens.server.security.audit import AuditLog
from livetokens.server.security.audit_chain import derive_key, verify
from livetokens.server.security.tls import RotatingCredentials
from livetokens.server.settings import SecuritySettings

KEY = b"audit-chain-test-key-0123456789abcdef"


async def write_log(path: pathlib.Path, count: int, *, key: bytes = KEY) -> None:
    """One run of the server: a start anchor, ``count`` records, a stop record."""
    audit = AuditLog(path, fsync=False, key=key, key_source="audit-key")
    audit.open({"version": "test"})
    try:
        for n in range(count):
            await audit.write({"decision": "deny", "n": n})
    finally:
        await audit.aclose()


def lines(path: pathlib.Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def check(*paths: pathlib.Path, key: bytes = KEY) -> tuple[int, str]:
    report = verify(list(paths), key)
    what = str(report.problem) if report.problem else "; ".join(map(str, report.open_ends))
    return report.exit_code, what


async def test_an_untouched_log_verifies(tmp_path: pathlib.Path) -> None:
    """Anchor (seq 0), records 1..n and a stop record, each with a 64-hex MAC: exit 0."""
    path = tmp_path / "audit.jsonl"
    await write_log(path, 5)
    records = [json.loads(line) for line in lines(path)]
    assert [r["seq"] for r in records] == list(range(7))
    assert records[0]["type"] == "anchor"
    assert records[0]["reason"] == "start"
    assert records[-1]["type"] == "stop"
    assert all(len(r["mac"]) == 64 for r in records)
    assert check(path) == (0, "")


async def test_an_edited_record_is_named(tmp_path: pathlib.Path) -> None:
    """Changing one value in line 3 breaks the chain exactly there."""
    path = tmp_path / "audit.jsonl"
    await write_log(path, 5)
    content = lines(path)
    content[2] = content[2].replace(b'"deny"', b'"allow"')
    path.write_bytes(b"".join(content))
    code, what = check(path)
    assert code == 1
    assert what.startswith(f"{path}:3: seq 2: the MAC does not match")


async def test_a_deleted_record_is_named(tmp_path: pathlib.Path) -> None:
    """Removing line 3: line 4 (seq 3) no longer follows seq 1."""
    path = tmp_path / "audit.jsonl"
    await write_log(path, 5)
    content = lines(path)
    del content[2]
    path.write_bytes(b"".join(content))
    code, what = check(path)
    assert code == 1
    assert what == f"{path}:3: seq 3 follows seq 1: records missing or out of order"


async def test_reordered_records_are_named(tmp_path: pathlib.Path) -> None:
    """Swapping lines 3 and 4 is found at line 3."""
    path = tmp_path / "audit.jsonl"
    await write_log(path, 5)
    content = lines(path)
    content[2], content[3] = content[3], content[2]
    path.write_bytes(b"".join(content))
    code, what = check(path)
    assert code == 1
    assert what.startswith(f"{path}:3: seq 3 follows seq 1")


async def test_a_truncated_log_is_reported(tmp_path: pathlib.Path) -> None:
    """Lines cut off the end: no stop record (exit 3, naming the last record left); a
    line cut in the middle: broken (exit 1)."""
    path = tmp_path / "audit.jsonl"
    await write_log(path, 5)
    content = lines(path)
    path.write_bytes(b"".join(content[:-3]))
    code, what = check(path)
    assert code == 3
    assert what.startswith(f"{path}:{len(content) - 3}: seq 3 of chain ")
    assert "ends without a stop record" in what
    path.write_bytes(b"".join(content[:-3]) + content[-3][:20])
    code, what = check(path)
    assert code == 1
    assert "cut off mid-record" in what


async def test_an_inserted_forged_record_is_named(tmp_path: pathlib.Path) -> None:
    """A record added without the key cannot carry a valid MAC."""
    path = tmp_path / "audit.jsonl"
    await write_log(path, 3)
    content = lines(path)
    forged = json.loads(content[2])
    forged["n"] = 99
    content.insert(3, (json.dumps(forged, separators=(",", ":")) + "\n").encode())
    path.write_bytes(b"".join(content))
    code, what = check(path)
    assert code == 1
    assert what.startswith(f"{path}:4:")


async def test_restarts_link_their_segments_and_seq_restarts_only_at_an_anchor(
    tmp_path: pathlib.Path,
) -> None:
    """A second run appends a start anchor whose prev is the first run's last MAC; the
    whole file verifies, and removing the first run's tail is found at the anchor."""
    path = tmp_path / "audit.jsonl"
    await write_log(path, 2)
    await write_log(path, 2)
    records = [json.loads(line) for line in lines(path)]
    assert [r["seq"] for r in records] == [0, 1, 2, 3, 0, 1, 2, 3]
    assert records[4]["prev"] == records[3]["mac"]
    assert check(path) == (0, "")
    content = lines(path)
    del content[3]  # the first run's stop record
    path.write_bytes(b"".join(content))
    code, what = check(path)
    assert code == 1
    assert what.startswith(f"{path}:4: this start anchor does not follow")


async def test_a_crash_leaves_an_open_end_not_a_break(tmp_path: pathlib.Path) -> None:
    """A run without a stop record (crash) followed by a new run: exit 3, named."""
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, fsync=False, key=KEY, key_source="audit-key")
    audit.open()
    await audit.write({"n": 1})
    thread, audit._thread = audit._thread, None  # a crash: no stop record
    audit._queue.put(audit_module._STOP)
    assert thread is not None
    thread.join(10)
    await write_log(path, 1)
    code, what = check(path)
    assert code == 3
    assert ": seq 1 of chain " in what
    assert "the run ends without a stop record" in what


async def test_several_writers_interleaved_in_one_file_verify(tmp_path: pathlib.Path) -> None:
    """`--workers N` processes append to one file: each has its own chain id, the
    interleaved file verifies, and an edit in one chain is still found."""
    path = tmp_path / "audit.jsonl"
    first = AuditLog(path, fsync=False, key=KEY, key_source="audit-key")
    second = AuditLog(path, fsync=False, key=KEY, key_source="audit-key")
    first.open()
    second.open()
    for n in range(3):
        await first.write({"n": n})
        await second.write({"n": n})
    await first.aclose()
    await second.aclose()
    assert len({json.loads(line)["chain"] for line in lines(path)}) == 2
    assert check(path) == (0, "")
    content = lines(path)
    content[5] = content[5].replace(b'"n":1', b'"n":7')
    path.write_bytes(b"".join(content))
    code, what = check(path)
    assert code == 1
    assert what.startswith(f"{path}:6:")


async def test_rotated_files_verify_in_order(tmp_path: pathlib.Path) -> None:
    """After rotation (rename + reopen) the new file starts with a reopen anchor that
    continues the chain: both files, oldest first, verify."""
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, fsync=False, key=KEY, key_source="audit-key")
    audit.open()
    await audit.write({"n": 1})
    path.rename(tmp_path / "audit.jsonl.1")
    audit.reopen()
    await audit.write({"n": 2})
    await audit.aclose()
    first = json.loads(lines(path)[0])
    assert (first["type"], first["reason"], first["seq"]) == ("anchor", "reopen", 2)
    assert check(tmp_path / "audit.jsonl.1", path) == (0, "")
    assert check(path) == (0, "")  # a reopened file on its own: from its anchor on


async def test_the_wrong_key_is_named_as_such(tmp_path: pathlib.Path) -> None:
    """Checking with another key says so instead of calling every record edited."""
    path = tmp_path / "audit.jsonl"
    await write_log(path, 1)
    code, what = check(path, key=b"another key entirely, 32 bytes....")
    assert code == 1
    assert "another key" in what


def test_the_key_is_the_audit_key_else_derived_from_the_fingerprint_key() -> None:
    """LIVETOKENS_AUDIT_KEY wins; else an HMAC-derived key (not the fingerprint key
    itself); else none (the server then uses a random key and warns)."""
    assert derive_key(b"a", b"f") == (b"a", "audit-key")
    derived, source = derive_key(None, b"f")
    assert (len(derived), source) == (32, "fingerprint-key")
    assert derived != b"f"
    assert derive_key(None, None) == (b"", "")


# --- the CLI ------------------------------------------------------------------------------


@pytest.fixture
def audit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only LIVETOKENS_AUDIT_KEY set, to KEY."""
    for name in list(os.environ):
        if name.startswith("LIVETOKENS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LIVETOKENS_AUDIT_KEY", KEY.decode())


@pytest.mark.usefixtures("audit_env")
async def test_the_verify_command_exit_codes(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`livetokens audit verify FILE`: 0 intact, 1 broken (naming file:line), 3 open
    end, 2 no key or unreadable."""
    path = tmp_path / "audit.jsonl"
    await write_log(path, 3)
    assert main(["audit", "verify", str(path)]) == 0
    assert "OK: 5 records" in capsys.readouterr().out
    content = lines(path)
    path.write_bytes(b"".join(content[:-1]))
    assert main(["audit", "verify", str(path)]) == 3
    assert "OPEN END" in capsys.readouterr().err
    path.write_bytes(b"".join([content[0], content[2], content[1], *content[3:]]))
    assert main(["audit", "verify", str(path)]) == 1
    assert f"BROKEN: {path}:2:" in capsys.readouterr().err
    assert main(["audit", "verify", str(tmp_path / "missing.jsonl")]) == 2
    monkeypatch.delenv("LIVETOKENS_AUDIT_KEY")
    assert main(["audit", "verify", str(path)]) == 2
    assert "no key" in capsys.readouterr().err


# --- what the server records --------------------------------------------------------------


async def test_the_start_anchor_records_version_settings_and_policy_hash(
    start_server: StartServer, write_policy: WritePolicy, tmp_path: pathlib.Path
) -> None:
    """The anchor holds the version, a settings summary without secrets, the policy's
    SHA-256 and the key's id; a policy reload (good and bad) is a record too."""
    policy = write_policy('[callers."*"]\nmax_uses = 2\n')
    audit_path = tmp_path / "audit.jsonl"
    running = await start_server(
        security=SecuritySettings(policy_file=policy, audit_log=audit_path, insecure_no_auth=True)
    )
    write_policy('[callers."*"]\nmax_uses = 3\n')
    assert await running.reload() is True
    write_policy("[callers.x]\nmax_uses = 0\n")
    assert await running.reload() is False
    await running.stop(1)
    records = [json.loads(line) for line in lines(audit_path)]
    anchor = records[0]
    assert anchor["settings"]["policy_file"] == str(policy)
    assert anchor["settings"]["insecure_no_auth"] is True
    assert anchor["version"]
    assert anchor["key_source"] == "fingerprint-key"
    assert len(anchor["policy_sha256"]) == 64
    text = audit_path.read_text()
    assert "test-api-key" not in text
    assert "test-fingerprint-key" not in text
    reloads = [r for r in records if r.get("type") == "policy-reload"]
    assert [r["ok"] for r in reloads] == [True, False]
    assert reloads[0]["policy_sha256"] != anchor["policy_sha256"]
    assert "max_uses" in reloads[1]["error"]
    key, _ = derive_key(None, b"test-fingerprint-key")
    assert verify([audit_path], key).exit_code == 0


def test_a_tls_reload_is_reported_for_the_audit_log(pki: PKI, tmp_path: pathlib.Path) -> None:
    """A rotated certificate produces a `tls-reload` record with the new cert's hash."""
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(pki.server.cert)
    key.write_bytes(pki.server.key)
    tls = RotatingCredentials(cert, key)
    events: list[dict[str, object]] = []
    tls.on_reload = lambda record: events.append(dict(record))
    _, rotated = new_authority_server(tmp_path)
    cert.write_bytes(rotated.cert)
    key.write_bytes(rotated.key)
    os.utime(cert, ns=(1, 1))
    os.utime(key, ns=(1, 1))
    assert tls._fetch() is not None
    assert [(e["type"], e["ok"]) for e in events] == [("tls-reload", True)]
    assert len(str(events[0]["cert_sha256"])) == 64
