"""`livetokens mint`: one MintToken call from the command line, printed as JSON."""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
from typing import Any, cast

import grpc
from google.protobuf import json_format

from livetokens.client import Client, error_details
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts


def build_request(args: argparse.Namespace) -> ts.TokenRequest:
    """The TokenRequest described by ``--request-json`` and the flags on top of it."""
    request = ts.TokenRequest()
    if args.request_json:
        json_format.Parse(args.request_json, request)
    if args.uses is not None:
        request.uses = args.uses
    if args.lifetime is not None:
        request.lifetime.FromTimedelta(args.lifetime)
    if args.new_session_window is not None:
        request.new_session_window.FromTimedelta(args.new_session_window)
    if args.model:
        request.constraints.model = args.model
    config = request.constraints.config
    for modality in args.modality or []:
        config.response_modalities.append(
            cast(lc.Modality, lc.Modality.Value(f"MODALITY_{modality}"))
        )
    if args.temperature is not None:
        config.temperature = args.temperature
    if args.voice:
        config.speech_config.voice_name = args.voice
    if args.system_instruction:
        config.system_instruction.parts.add(text=args.system_instruction)
    if args.session_resumption:
        config.session_resumption.SetInParent()
    if args.lock:
        request.lock.mode = ts.LOCK_MODE_ALL if args.lock == "all" else ts.LOCK_MODE_SET_FIELDS
    for name in args.lock_field:
        value = ts.LockableField.Value(f"LOCKABLE_FIELD_{name.upper().replace('-', '_')}")
        request.lock.additional_fields.append(cast(ts.LockableField, value))
    if args.request_id:
        request.request_id = args.request_id
    return request


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def connection_options(args: argparse.Namespace, target: str) -> dict[str, Any]:
    """Client options from the flags: plaintext only for a loopback target without --tls
    or certificates; TLS (optionally mutual) otherwise; a bearer secret from a file or
    ``$LIVETOKENS_BEARER``."""
    host = target.rpartition(":")[0] or target
    metadata: list[tuple[str, str]] = []
    bearer = os.environ.get("LIVETOKENS_BEARER", "").strip()
    if args.bearer_file:
        bearer = pathlib.Path(args.bearer_file).read_text(encoding="utf-8").strip()
    if bearer:
        metadata.append(("authorization", f"Bearer {bearer}"))
    wants_tls = args.tls or args.ca or args.cert or host not in LOOPBACK_HOSTS
    if not wants_tls:
        return {"plaintext": True, "metadata": metadata}
    root = pathlib.Path(args.ca).read_bytes() if args.ca else None
    cert = pathlib.Path(args.cert).read_bytes() if args.cert else None
    key = pathlib.Path(args.key).read_bytes() if args.key else None
    credentials = grpc.ssl_channel_credentials(
        root_certificates=root, private_key=key, certificate_chain=cert
    )
    return {"credentials": credentials, "metadata": metadata}


def run_mint(args: argparse.Namespace) -> int:
    """Mint and print the Token as JSON (exit 0), or the decoded error (exit 1)."""
    target = args.target or os.environ.get("LIVETOKENS_TARGET", "127.0.0.1:50051")
    try:
        request = build_request(args)
    except (ValueError, json_format.ParseError) as exc:
        print(f"livetokens mint: {exc}", file=sys.stderr)
        return 2
    try:
        options = connection_options(args, target)
    except OSError as exc:
        print(f"livetokens mint: cannot read {exc.filename!r} ({exc.strerror})", file=sys.stderr)
        return 2
    with Client(target, **options) as client:
        try:
            token = client.mint_token(request, timeout=args.timeout)
        except grpc.RpcError as exc:
            details = error_details(exc)
            out: dict[str, object] = {
                "code": details.code.name,
                "reason": details.reason,
                "message": details.message,
                "fieldViolations": [
                    {"field": v.field, "description": v.description}
                    for v in details.field_violations
                ],
            }
            if details.retry_delay is not None:
                out["retryDelaySeconds"] = details.retry_delay.total_seconds()
            print(json.dumps(out, indent=2), file=sys.stderr)
            return 1
    print(
        json.dumps(
            json_format.MessageToDict(token, always_print_fields_with_no_presence=True), indent=2
        )
    )
    return 0
