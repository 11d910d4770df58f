from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Modality(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODALITY_UNSPECIFIED: _ClassVar[Modality]
    MODALITY_TEXT: _ClassVar[Modality]
    MODALITY_AUDIO: _ClassVar[Modality]
    MODALITY_IMAGE: _ClassVar[Modality]

class MediaResolution(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEDIA_RESOLUTION_UNSPECIFIED: _ClassVar[MediaResolution]
    MEDIA_RESOLUTION_LOW: _ClassVar[MediaResolution]
    MEDIA_RESOLUTION_MEDIUM: _ClassVar[MediaResolution]
    MEDIA_RESOLUTION_HIGH: _ClassVar[MediaResolution]

class ThinkingLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    THINKING_LEVEL_UNSPECIFIED: _ClassVar[ThinkingLevel]
    THINKING_LEVEL_MINIMAL: _ClassVar[ThinkingLevel]
    THINKING_LEVEL_LOW: _ClassVar[ThinkingLevel]
    THINKING_LEVEL_MEDIUM: _ClassVar[ThinkingLevel]
    THINKING_LEVEL_HIGH: _ClassVar[ThinkingLevel]

class FunctionBehavior(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FUNCTION_BEHAVIOR_UNSPECIFIED: _ClassVar[FunctionBehavior]
    FUNCTION_BEHAVIOR_BLOCKING: _ClassVar[FunctionBehavior]
    FUNCTION_BEHAVIOR_NON_BLOCKING: _ClassVar[FunctionBehavior]

class SchemaType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCHEMA_TYPE_UNSPECIFIED: _ClassVar[SchemaType]
    SCHEMA_TYPE_STRING: _ClassVar[SchemaType]
    SCHEMA_TYPE_NUMBER: _ClassVar[SchemaType]
    SCHEMA_TYPE_INTEGER: _ClassVar[SchemaType]
    SCHEMA_TYPE_BOOLEAN: _ClassVar[SchemaType]
    SCHEMA_TYPE_ARRAY: _ClassVar[SchemaType]
    SCHEMA_TYPE_OBJECT: _ClassVar[SchemaType]

class StartSensitivity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    START_SENSITIVITY_UNSPECIFIED: _ClassVar[StartSensitivity]
    START_SENSITIVITY_HIGH: _ClassVar[StartSensitivity]
    START_SENSITIVITY_LOW: _ClassVar[StartSensitivity]

class EndSensitivity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    END_SENSITIVITY_UNSPECIFIED: _ClassVar[EndSensitivity]
    END_SENSITIVITY_HIGH: _ClassVar[EndSensitivity]
    END_SENSITIVITY_LOW: _ClassVar[EndSensitivity]

class ActivityHandling(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTIVITY_HANDLING_UNSPECIFIED: _ClassVar[ActivityHandling]
    ACTIVITY_HANDLING_START_OF_ACTIVITY_INTERRUPTS: _ClassVar[ActivityHandling]
    ACTIVITY_HANDLING_NO_INTERRUPTION: _ClassVar[ActivityHandling]

class TurnCoverage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TURN_COVERAGE_UNSPECIFIED: _ClassVar[TurnCoverage]
    TURN_COVERAGE_TURN_INCLUDES_ONLY_ACTIVITY: _ClassVar[TurnCoverage]
    TURN_COVERAGE_TURN_INCLUDES_ALL_INPUT: _ClassVar[TurnCoverage]
    TURN_COVERAGE_TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO: _ClassVar[TurnCoverage]
MODALITY_UNSPECIFIED: Modality
MODALITY_TEXT: Modality
MODALITY_AUDIO: Modality
MODALITY_IMAGE: Modality
MEDIA_RESOLUTION_UNSPECIFIED: MediaResolution
MEDIA_RESOLUTION_LOW: MediaResolution
MEDIA_RESOLUTION_MEDIUM: MediaResolution
MEDIA_RESOLUTION_HIGH: MediaResolution
THINKING_LEVEL_UNSPECIFIED: ThinkingLevel
THINKING_LEVEL_MINIMAL: ThinkingLevel
THINKING_LEVEL_LOW: ThinkingLevel
THINKING_LEVEL_MEDIUM: ThinkingLevel
THINKING_LEVEL_HIGH: ThinkingLevel
FUNCTION_BEHAVIOR_UNSPECIFIED: FunctionBehavior
FUNCTION_BEHAVIOR_BLOCKING: FunctionBehavior
FUNCTION_BEHAVIOR_NON_BLOCKING: FunctionBehavior
SCHEMA_TYPE_UNSPECIFIED: SchemaType
SCHEMA_TYPE_STRING: SchemaType
SCHEMA_TYPE_NUMBER: SchemaType
SCHEMA_TYPE_INTEGER: SchemaType
SCHEMA_TYPE_BOOLEAN: SchemaType
SCHEMA_TYPE_ARRAY: SchemaType
SCHEMA_TYPE_OBJECT: SchemaType
START_SENSITIVITY_UNSPECIFIED: StartSensitivity
START_SENSITIVITY_HIGH: StartSensitivity
START_SENSITIVITY_LOW: StartSensitivity
END_SENSITIVITY_UNSPECIFIED: EndSensitivity
END_SENSITIVITY_HIGH: EndSensitivity
END_SENSITIVITY_LOW: EndSensitivity
ACTIVITY_HANDLING_UNSPECIFIED: ActivityHandling
ACTIVITY_HANDLING_START_OF_ACTIVITY_INTERRUPTS: ActivityHandling
ACTIVITY_HANDLING_NO_INTERRUPTION: ActivityHandling
TURN_COVERAGE_UNSPECIFIED: TurnCoverage
TURN_COVERAGE_TURN_INCLUDES_ONLY_ACTIVITY: TurnCoverage
TURN_COVERAGE_TURN_INCLUDES_ALL_INPUT: TurnCoverage
TURN_COVERAGE_TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO: TurnCoverage

class LiveConfig(_message.Message):
    __slots__ = ("response_modalities", "temperature", "top_p", "top_k", "max_output_tokens", "seed", "media_resolution", "speech_config", "thinking_config", "enable_affective_dialog", "translation_config", "system_instruction", "tools", "session_resumption", "input_audio_transcription", "output_audio_transcription", "realtime_input_config", "context_window_compression", "proactivity", "history_config")
    RESPONSE_MODALITIES_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    MAX_OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MEDIA_RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    SPEECH_CONFIG_FIELD_NUMBER: _ClassVar[int]
    THINKING_CONFIG_FIELD_NUMBER: _ClassVar[int]
    ENABLE_AFFECTIVE_DIALOG_FIELD_NUMBER: _ClassVar[int]
    TRANSLATION_CONFIG_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    SESSION_RESUMPTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_AUDIO_TRANSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_AUDIO_TRANSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REALTIME_INPUT_CONFIG_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_WINDOW_COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    PROACTIVITY_FIELD_NUMBER: _ClassVar[int]
    HISTORY_CONFIG_FIELD_NUMBER: _ClassVar[int]
    response_modalities: _containers.RepeatedScalarFieldContainer[Modality]
    temperature: float
    top_p: float
    top_k: int
    max_output_tokens: int
    seed: int
    media_resolution: MediaResolution
    speech_config: SpeechConfig
    thinking_config: ThinkingConfig
    enable_affective_dialog: bool
    translation_config: TranslationConfig
    system_instruction: Content
    tools: _containers.RepeatedCompositeFieldContainer[Tool]
    session_resumption: SessionResumptionConfig
    input_audio_transcription: AudioTranscriptionConfig
    output_audio_transcription: AudioTranscriptionConfig
    realtime_input_config: RealtimeInputConfig
    context_window_compression: ContextWindowCompressionConfig
    proactivity: ProactivityConfig
    history_config: HistoryConfig
    def __init__(self, response_modalities: _Optional[_Iterable[_Union[Modality, str]]] = ..., temperature: _Optional[float] = ..., top_p: _Optional[float] = ..., top_k: _Optional[int] = ..., max_output_tokens: _Optional[int] = ..., seed: _Optional[int] = ..., media_resolution: _Optional[_Union[MediaResolution, str]] = ..., speech_config: _Optional[_Union[SpeechConfig, _Mapping]] = ..., thinking_config: _Optional[_Union[ThinkingConfig, _Mapping]] = ..., enable_affective_dialog: _Optional[bool] = ..., translation_config: _Optional[_Union[TranslationConfig, _Mapping]] = ..., system_instruction: _Optional[_Union[Content, _Mapping]] = ..., tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ..., session_resumption: _Optional[_Union[SessionResumptionConfig, _Mapping]] = ..., input_audio_transcription: _Optional[_Union[AudioTranscriptionConfig, _Mapping]] = ..., output_audio_transcription: _Optional[_Union[AudioTranscriptionConfig, _Mapping]] = ..., realtime_input_config: _Optional[_Union[RealtimeInputConfig, _Mapping]] = ..., context_window_compression: _Optional[_Union[ContextWindowCompressionConfig, _Mapping]] = ..., proactivity: _Optional[_Union[ProactivityConfig, _Mapping]] = ..., history_config: _Optional[_Union[HistoryConfig, _Mapping]] = ...) -> None: ...

class SpeechConfig(_message.Message):
    __slots__ = ("voice_name", "language_code")
    VOICE_NAME_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    voice_name: str
    language_code: str
    def __init__(self, voice_name: _Optional[str] = ..., language_code: _Optional[str] = ...) -> None: ...

class ThinkingConfig(_message.Message):
    __slots__ = ("include_thoughts", "thinking_budget", "thinking_level")
    INCLUDE_THOUGHTS_FIELD_NUMBER: _ClassVar[int]
    THINKING_BUDGET_FIELD_NUMBER: _ClassVar[int]
    THINKING_LEVEL_FIELD_NUMBER: _ClassVar[int]
    include_thoughts: bool
    thinking_budget: int
    thinking_level: ThinkingLevel
    def __init__(self, include_thoughts: _Optional[bool] = ..., thinking_budget: _Optional[int] = ..., thinking_level: _Optional[_Union[ThinkingLevel, str]] = ...) -> None: ...

class TranslationConfig(_message.Message):
    __slots__ = ("target_language_code", "echo_target_language")
    TARGET_LANGUAGE_CODE_FIELD_NUMBER: _ClassVar[int]
    ECHO_TARGET_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    target_language_code: str
    echo_target_language: bool
    def __init__(self, target_language_code: _Optional[str] = ..., echo_target_language: _Optional[bool] = ...) -> None: ...

class Content(_message.Message):
    __slots__ = ("parts",)
    PARTS_FIELD_NUMBER: _ClassVar[int]
    parts: _containers.RepeatedCompositeFieldContainer[Part]
    def __init__(self, parts: _Optional[_Iterable[_Union[Part, _Mapping]]] = ...) -> None: ...

class Part(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class Tool(_message.Message):
    __slots__ = ("function_declarations", "google_search", "code_execution", "url_context")
    FUNCTION_DECLARATIONS_FIELD_NUMBER: _ClassVar[int]
    GOOGLE_SEARCH_FIELD_NUMBER: _ClassVar[int]
    CODE_EXECUTION_FIELD_NUMBER: _ClassVar[int]
    URL_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    function_declarations: _containers.RepeatedCompositeFieldContainer[FunctionDeclaration]
    google_search: GoogleSearch
    code_execution: CodeExecution
    url_context: UrlContext
    def __init__(self, function_declarations: _Optional[_Iterable[_Union[FunctionDeclaration, _Mapping]]] = ..., google_search: _Optional[_Union[GoogleSearch, _Mapping]] = ..., code_execution: _Optional[_Union[CodeExecution, _Mapping]] = ..., url_context: _Optional[_Union[UrlContext, _Mapping]] = ...) -> None: ...

class GoogleSearch(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CodeExecution(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UrlContext(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FunctionDeclaration(_message.Message):
    __slots__ = ("name", "description", "parameters", "behavior")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    parameters: Schema
    behavior: FunctionBehavior
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., parameters: _Optional[_Union[Schema, _Mapping]] = ..., behavior: _Optional[_Union[FunctionBehavior, str]] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("type", "description", "properties", "required", "items", "enum_values", "nullable", "format")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Schema
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Schema, _Mapping]] = ...) -> None: ...
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    ENUM_VALUES_FIELD_NUMBER: _ClassVar[int]
    NULLABLE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    type: SchemaType
    description: str
    properties: _containers.MessageMap[str, Schema]
    required: _containers.RepeatedScalarFieldContainer[str]
    items: Schema
    enum_values: _containers.RepeatedScalarFieldContainer[str]
    nullable: bool
    format: str
    def __init__(self, type: _Optional[_Union[SchemaType, str]] = ..., description: _Optional[str] = ..., properties: _Optional[_Mapping[str, Schema]] = ..., required: _Optional[_Iterable[str]] = ..., items: _Optional[_Union[Schema, _Mapping]] = ..., enum_values: _Optional[_Iterable[str]] = ..., nullable: _Optional[bool] = ..., format: _Optional[str] = ...) -> None: ...

class SessionResumptionConfig(_message.Message):
    __slots__ = ("handle",)
    HANDLE_FIELD_NUMBER: _ClassVar[int]
    handle: str
    def __init__(self, handle: _Optional[str] = ...) -> None: ...

class AudioTranscriptionConfig(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RealtimeInputConfig(_message.Message):
    __slots__ = ("automatic_activity_detection", "activity_handling", "turn_coverage")
    AUTOMATIC_ACTIVITY_DETECTION_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_HANDLING_FIELD_NUMBER: _ClassVar[int]
    TURN_COVERAGE_FIELD_NUMBER: _ClassVar[int]
    automatic_activity_detection: AutomaticActivityDetection
    activity_handling: ActivityHandling
    turn_coverage: TurnCoverage
    def __init__(self, automatic_activity_detection: _Optional[_Union[AutomaticActivityDetection, _Mapping]] = ..., activity_handling: _Optional[_Union[ActivityHandling, str]] = ..., turn_coverage: _Optional[_Union[TurnCoverage, str]] = ...) -> None: ...

class AutomaticActivityDetection(_message.Message):
    __slots__ = ("disabled", "start_of_speech_sensitivity", "end_of_speech_sensitivity", "prefix_padding_ms", "silence_duration_ms")
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    START_OF_SPEECH_SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    END_OF_SPEECH_SENSITIVITY_FIELD_NUMBER: _ClassVar[int]
    PREFIX_PADDING_MS_FIELD_NUMBER: _ClassVar[int]
    SILENCE_DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    disabled: bool
    start_of_speech_sensitivity: StartSensitivity
    end_of_speech_sensitivity: EndSensitivity
    prefix_padding_ms: int
    silence_duration_ms: int
    def __init__(self, disabled: _Optional[bool] = ..., start_of_speech_sensitivity: _Optional[_Union[StartSensitivity, str]] = ..., end_of_speech_sensitivity: _Optional[_Union[EndSensitivity, str]] = ..., prefix_padding_ms: _Optional[int] = ..., silence_duration_ms: _Optional[int] = ...) -> None: ...

class ContextWindowCompressionConfig(_message.Message):
    __slots__ = ("trigger_tokens", "sliding_window")
    TRIGGER_TOKENS_FIELD_NUMBER: _ClassVar[int]
    SLIDING_WINDOW_FIELD_NUMBER: _ClassVar[int]
    trigger_tokens: int
    sliding_window: SlidingWindow
    def __init__(self, trigger_tokens: _Optional[int] = ..., sliding_window: _Optional[_Union[SlidingWindow, _Mapping]] = ...) -> None: ...

class SlidingWindow(_message.Message):
    __slots__ = ("target_tokens",)
    TARGET_TOKENS_FIELD_NUMBER: _ClassVar[int]
    target_tokens: int
    def __init__(self, target_tokens: _Optional[int] = ...) -> None: ...

class ProactivityConfig(_message.Message):
    __slots__ = ("proactive_audio",)
    PROACTIVE_AUDIO_FIELD_NUMBER: _ClassVar[int]
    proactive_audio: bool
    def __init__(self, proactive_audio: _Optional[bool] = ...) -> None: ...

class HistoryConfig(_message.Message):
    __slots__ = ("initial_history_in_client_content",)
    INITIAL_HISTORY_IN_CLIENT_CONTENT_FIELD_NUMBER: _ClassVar[int]
    initial_history_in_client_content: bool
    def __init__(self, initial_history_in_client_content: _Optional[bool] = ...) -> None: ...
