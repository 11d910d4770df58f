"""livetokens server: mints Gemini Live API ephemeral tokens over gRPC.

Public surface: :func:`create_server`, :class:`Settings` and :func:`from_env`.
"""

from livetokens.server.app import RunningServer, create_server
from livetokens.server.settings import Settings, UpstreamSettings, from_env

__all__ = ["RunningServer", "Settings", "UpstreamSettings", "create_server", "from_env"]
