import os

from livetokens.client import Client
from livetokens.v1 import live_config_pb2 as lc
from livetokens.v1 import token_service_pb2 as ts

model = "gemini-live-2.5-flash-preview"
config = lc.LiveConfig(response_modalities=[lc.MODALITY_AUDIO], temperature=0.7)
request = ts.TokenRequest(constraints=ts.LiveConstraints(model=model, config=config))
with Client(os.environ["LIVETOKENS_TARGET"], plaintext=True) as client:
    token = client.mint_token(request, timeout=5)
print("minted", token.fingerprint, "until", token.expire_time.ToJsonString())
