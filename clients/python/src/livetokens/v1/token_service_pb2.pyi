import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from livetokens.v1 import live_config_pb2 as _live_config_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_REQUEST: _ClassVar[ErrorReason]
    ERROR_REASON_REQUEST_ID_REUSED: _ClassVar[ErrorReason]
    ERROR_REASON_UPSTREAM_REJECTED_REQUEST: _ClassVar[ErrorReason]
    ERROR_REASON_UPSTREAM_RATE_LIMITED: _ClassVar[ErrorReason]
    ERROR_REASON_UPSTREAM_UNAVAILABLE: _ClassVar[ErrorReason]
    ERROR_REASON_DEADLINE_EXCEEDED: _ClassVar[ErrorReason]
    ERROR_REASON_UPSTREAM_CREDENTIALS_REJECTED: _ClassVar[ErrorReason]
    ERROR_REASON_UPSTREAM_MISCONFIGURED: _ClassVar[ErrorReason]
    ERROR_REASON_UPSTREAM_FAILED_PRECONDITION: _ClassVar[ErrorReason]
    ERROR_REASON_UNAUTHENTICATED: _ClassVar[ErrorReason]
    ERROR_REASON_POLICY_DENIED: _ClassVar[ErrorReason]
    ERROR_REASON_RATE_LIMITED: _ClassVar[ErrorReason]
    ERROR_REASON_AUDIT_UNAVAILABLE: _ClassVar[ErrorReason]
    ERROR_REASON_INTERNAL: _ClassVar[ErrorReason]
    ERROR_REASON_REQUEST_UNDECODABLE: _ClassVar[ErrorReason]
    ERROR_REASON_REQUEST_TOO_LARGE: _ClassVar[ErrorReason]
    ERROR_REASON_OVERLOADED: _ClassVar[ErrorReason]
    ERROR_REASON_STATE_UNAVAILABLE: _ClassVar[ErrorReason]

class LockMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOCK_MODE_UNSPECIFIED: _ClassVar[LockMode]
    LOCK_MODE_ALL: _ClassVar[LockMode]
    LOCK_MODE_SET_FIELDS: _ClassVar[LockMode]

class LockableField(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOCKABLE_FIELD_UNSPECIFIED: _ClassVar[LockableField]
    LOCKABLE_FIELD_RESPONSE_MODALITIES: _ClassVar[LockableField]
    LOCKABLE_FIELD_TEMPERATURE: _ClassVar[LockableField]
    LOCKABLE_FIELD_TOP_P: _ClassVar[LockableField]
    LOCKABLE_FIELD_TOP_K: _ClassVar[LockableField]
    LOCKABLE_FIELD_MAX_OUTPUT_TOKENS: _ClassVar[LockableField]
    LOCKABLE_FIELD_SEED: _ClassVar[LockableField]
    LOCKABLE_FIELD_MEDIA_RESOLUTION: _ClassVar[LockableField]
    LOCKABLE_FIELD_SPEECH_CONFIG: _ClassVar[LockableField]
    LOCKABLE_FIELD_THINKING_CONFIG: _ClassVar[LockableField]
    LOCKABLE_FIELD_ENABLE_AFFECTIVE_DIALOG: _ClassVar[LockableField]
    LOCKABLE_FIELD_TRANSLATION_CONFIG: _ClassVar[LockableField]
    LOCKABLE_FIELD_SYSTEM_INSTRUCTION: _ClassVar[LockableField]
    LOCKABLE_FIELD_TOOLS: _ClassVar[LockableField]
    LOCKABLE_FIELD_SESSION_RESUMPTION: _ClassVar[LockableField]
    LOCKABLE_FIELD_INPUT_AUDIO_TRANSCRIPTION: _ClassVar[LockableField]
    LOCKABLE_FIELD_OUTPUT_AUDIO_TRANSCRIPTION: _ClassVar[LockableField]
    LOCKABLE_FIELD_REALTIME_INPUT_CONFIG: _ClassVar[LockableField]
    LOCKABLE_FIELD_CONTEXT_WINDOW_COMPRESSION: _ClassVar[LockableField]
    LOCKABLE_FIELD_PROACTIVITY: _ClassVar[LockableField]
    LOCKABLE_FIELD_HISTORY_CONFIG: _ClassVar[LockableField]
ERROR_REASON_UNSPECIFIED: ErrorReason
ERROR_REASON_INVALID_REQUEST: ErrorReason
ERROR_REASON_REQUEST_ID_REUSED: ErrorReason
ERROR_REASON_UPSTREAM_REJECTED_REQUEST: ErrorReason
ERROR_REASON_UPSTREAM_RATE_LIMITED: ErrorReason
ERROR_REASON_UPSTREAM_UNAVAILABLE: ErrorReason
ERROR_REASON_DEADLINE_EXCEEDED: ErrorReason
ERROR_REASON_UPSTREAM_CREDENTIALS_REJECTED: ErrorReason
ERROR_REASON_UPSTREAM_MISCONFIGURED: ErrorReason
ERROR_REASON_UPSTREAM_FAILED_PRECONDITION: ErrorReason
ERROR_REASON_UNAUTHENTICATED: ErrorReason
ERROR_REASON_POLICY_DENIED: ErrorReason
ERROR_REASON_RATE_LIMITED: ErrorReason
ERROR_REASON_AUDIT_UNAVAILABLE: ErrorReason
ERROR_REASON_INTERNAL: ErrorReason
ERROR_REASON_REQUEST_UNDECODABLE: ErrorReason
ERROR_REASON_REQUEST_TOO_LARGE: ErrorReason
ERROR_REASON_OVERLOADED: ErrorReason
ERROR_REASON_STATE_UNAVAILABLE: ErrorReason
LOCK_MODE_UNSPECIFIED: LockMode
LOCK_MODE_ALL: LockMode
LOCK_MODE_SET_FIELDS: LockMode
LOCKABLE_FIELD_UNSPECIFIED: LockableField
LOCKABLE_FIELD_RESPONSE_MODALITIES: LockableField
LOCKABLE_FIELD_TEMPERATURE: LockableField
LOCKABLE_FIELD_TOP_P: LockableField
LOCKABLE_FIELD_TOP_K: LockableField
LOCKABLE_FIELD_MAX_OUTPUT_TOKENS: LockableField
LOCKABLE_FIELD_SEED: LockableField
LOCKABLE_FIELD_MEDIA_RESOLUTION: LockableField
LOCKABLE_FIELD_SPEECH_CONFIG: LockableField
LOCKABLE_FIELD_THINKING_CONFIG: LockableField
LOCKABLE_FIELD_ENABLE_AFFECTIVE_DIALOG: LockableField
LOCKABLE_FIELD_TRANSLATION_CONFIG: LockableField
LOCKABLE_FIELD_SYSTEM_INSTRUCTION: LockableField
LOCKABLE_FIELD_TOOLS: LockableField
LOCKABLE_FIELD_SESSION_RESUMPTION: LockableField
LOCKABLE_FIELD_INPUT_AUDIO_TRANSCRIPTION: LockableField
LOCKABLE_FIELD_OUTPUT_AUDIO_TRANSCRIPTION: LockableField
LOCKABLE_FIELD_REALTIME_INPUT_CONFIG: LockableField
LOCKABLE_FIELD_CONTEXT_WINDOW_COMPRESSION: LockableField
LOCKABLE_FIELD_PROACTIVITY: LockableField
LOCKABLE_FIELD_HISTORY_CONFIG: LockableField

class TokenRequest(_message.Message):
    __slots__ = ("uses", "lifetime", "new_session_window", "constraints", "lock", "request_id")
    USES_FIELD_NUMBER: _ClassVar[int]
    LIFETIME_FIELD_NUMBER: _ClassVar[int]
    NEW_SESSION_WINDOW_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    LOCK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    uses: int
    lifetime: _duration_pb2.Duration
    new_session_window: _duration_pb2.Duration
    constraints: LiveConstraints
    lock: Lock
    request_id: str
    def __init__(self, uses: _Optional[int] = ..., lifetime: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., new_session_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., constraints: _Optional[_Union[LiveConstraints, _Mapping]] = ..., lock: _Optional[_Union[Lock, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class LiveConstraints(_message.Message):
    __slots__ = ("model", "config")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    model: str
    config: _live_config_pb2.LiveConfig
    def __init__(self, model: _Optional[str] = ..., config: _Optional[_Union[_live_config_pb2.LiveConfig, _Mapping]] = ...) -> None: ...

class Lock(_message.Message):
    __slots__ = ("mode", "additional_fields")
    MODE_FIELD_NUMBER: _ClassVar[int]
    ADDITIONAL_FIELDS_FIELD_NUMBER: _ClassVar[int]
    mode: LockMode
    additional_fields: _containers.RepeatedScalarFieldContainer[LockableField]
    def __init__(self, mode: _Optional[_Union[LockMode, str]] = ..., additional_fields: _Optional[_Iterable[_Union[LockableField, str]]] = ...) -> None: ...

class Token(_message.Message):
    __slots__ = ("name", "expire_time", "new_session_expire_time", "uses", "lock", "fingerprint", "websocket_url", "api_version", "model")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    NEW_SESSION_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    USES_FIELD_NUMBER: _ClassVar[int]
    LOCK_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    WEBSOCKET_URL_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    expire_time: _timestamp_pb2.Timestamp
    new_session_expire_time: _timestamp_pb2.Timestamp
    uses: int
    lock: EffectiveLock
    fingerprint: str
    websocket_url: str
    api_version: str
    model: str
    def __init__(self, name: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., new_session_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., uses: _Optional[int] = ..., lock: _Optional[_Union[EffectiveLock, _Mapping]] = ..., fingerprint: _Optional[str] = ..., websocket_url: _Optional[str] = ..., api_version: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class EffectiveLock(_message.Message):
    __slots__ = ("whole_setup", "field_paths")
    WHOLE_SETUP_FIELD_NUMBER: _ClassVar[int]
    FIELD_PATHS_FIELD_NUMBER: _ClassVar[int]
    whole_setup: bool
    field_paths: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, whole_setup: _Optional[bool] = ..., field_paths: _Optional[_Iterable[str]] = ...) -> None: ...
