"""Helpers of the state tests (imported as `state_support`)."""

from __future__ import annotations

import dataclasses
import datetime

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclasses.dataclass(frozen=True)
class Refusal:
    """What a livetokens error says that these tests look at."""

    code: grpc.StatusCode
    reason: str
    retry_delay: datetime.timedelta | None
    fields: list[str]


def refusal(error: grpc.aio.AioRpcError | grpc.RpcError) -> Refusal:
    """Decode ErrorInfo, RetryInfo and BadRequest from a failed call."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, f"no rich status on {error.code()}: {error.details()}"  # type: ignore[attr-defined]
    reason, retry, fields = "", None, []
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        retry_info = error_details_pb2.RetryInfo()
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(info):
            reason = info.reason
        elif detail.Unpack(retry_info):
            retry = retry_info.retry_delay.ToTimedelta()
        elif detail.Unpack(bad):
            fields += [v.field for v in bad.field_violations]
    return Refusal(error.code(), reason, retry, fields)  # type: ignore[attr-defined]
