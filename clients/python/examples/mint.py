import os
from datetime import timedelta

import grpc

from livetokens.client import Client, error_details, expire_time
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

config = lc.LiveConfig(
    response_modalities=[lc.MODALITY_AUDIO],
    temperature=0.7,
    session_resumption=lc.SessionResumptionConfig(),
)
request = ts.TokenRequest(
    constraints=ts.LiveConstraints(model="gemini-live-2.5-flash-preview", config=config),
    lifetime=timedelta(minutes=10),
    uses=2,
)
# plaintext=True only for a server on loopback. In production leave it out (TLS with the
# system roots) and add ca_file=..., cert_file=... and key_file=... (mutual TLS) or
# bearer_token=... as your livetokens requires.
with Client(os.environ["LIVETOKENS_TARGET"], plaintext=True) as client:
    token = client.mint_token(request, timeout=5)
    # token.name is the credential: hand it to the app, never print or log it.
    print("name:", token.name.partition("/")[0] + "/...(redacted)")
    print("expires:", expire_time(token).isoformat())
    print("fingerprint:", token.fingerprint)

    request.uses = -1  # invalid: the server names the field
    try:
        client.mint_token(request, timeout=5)
    except grpc.RpcError as err:
        details = error_details(err)
        print("rejected:", details.code.name, details.reason)
        if details.error_reason == ts.ERROR_REASON_INVALID_REQUEST:
            for violation in details.field_violations:
                print(f"violation: {violation.field}: {violation.description}")
