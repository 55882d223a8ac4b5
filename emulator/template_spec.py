"""TemplateSpec: every template field of both generations, typed, each rule in one place.

The vendor names a template's fields flat (`gop_size`, `seg_time`, `logo_offset`, ...) and
nests only adaptive_streams, thumbnail and encryption; inside, they are grouped by what they
configure (`spec.gop.size`, `spec.segments.time`, `spec.logo.offset`, `spec.renditions`).
`FLAT_FIELDS` is the one map between the two spellings.

Where a rule lives: the field types below (ranges, formats, codecs) are what the edge models of
both generations (`emulator/api/templates.py`, `emulator/v1/params.py`) and `TemplateSpec` are
built from; the edges only add what their own contract says (/api's integer quality, X:Y logo
offset and no dash; v1's kbit/s audio bitrates and "zero means not given", in
`v1.params.normalize`). A zero here is a value, not "not given": framerate 0 keeps the source's,
video_bitrate 0 is CRF mode, gop 0 is none (docs/transcoding.md, "One template model").

Stored rows keep the shape they always had (the template's columns with v1's fields in
`extra`, and the task's snapshot of that row); `TemplateSpec.from_stored` reads either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from emulator.errors import TRANSCODE_FAILED, TaskFailed
from emulator.services import fields

MAX_RENDITIONS = 10
MAX_THUMBNAILS = 1000
MAX_SEGMENT_S = 60
MAX_DIMENSION = 8192


def _not_bool(value: Any) -> Any:
    # pydantic's lax mode reads True as 1; a template's number is never a flag.
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


def _sample_rate(value: Any) -> Any:
    """`48k`, `44.1k`, `48000` or 48000 -> 48000 Hz; "" or 0 keeps the source's."""
    _not_bool(value)
    if value in ("", 0):
        return 0
    return fields.sample_rate_hz(str(value))


def _thumbnail_side(value: int) -> int:
    if value == 1:
        raise ValueError("must be 0 (keep the aspect ratio) or 2 to 8192")
    return value


NotBool = BeforeValidator(_not_bool)
Format = Literal["mp4", "hls", "dash", "flv"]
VideoCodec = Literal["h264", "h265"]
SegType = Literal["ts", "fmp4"]
QUALITY_RANGE = Field(ge=1, le=10)
Quality = Annotated[float, QUALITY_RANGE, Field(allow_inf_nan=False), NotBool]
WholeQuality = Annotated[int, QUALITY_RANGE, NotBool]  # /api's quality is an integer
Framerate = Annotated[int, Field(ge=0, le=120, description="fps; 0 keeps the source's"), NotBool]
Kbps = Annotated[int, Field(ge=0, le=200_000, description="kbit/s; 0 is CRF mode"), NotBool]


def audio_bitrate(value: int) -> int:
    if not 8000 <= value <= 512_000:
        raise ValueError("must be 8000-512000 bit/s")
    return value


AudioBitrate = Annotated[int, NotBool, AfterValidator(audio_bitrate), Field(description="bit/s")]
GopFrames = Annotated[int, Field(ge=0, le=10_000, description="frames"), NotBool]
GopSeconds = Annotated[int, Field(ge=0, le=600, description="seconds"), NotBool]
SegTime = Annotated[int, Field(ge=1, le=MAX_SEGMENT_S, description="seconds"), NotBool]
Channels = Annotated[int, Field(ge=0, le=8), NotBool]
SampleRateHz = Annotated[int, BeforeValidator(_sample_rate)]
Seconds = Annotated[int, Field(ge=0, le=86_400, description="seconds"), NotBool]
ThumbnailCount = Annotated[int, Field(ge=0, le=MAX_THUMBNAILS), NotBool]
ThumbnailSide = Annotated[
    int, Field(ge=0, le=MAX_DIMENSION), NotBool, AfterValidator(_thumbnail_side)
]
Short = Annotated[str, Field(max_length=64), AfterValidator(fields.no_control_chars)]
HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")]
HeaderValue = Annotated[str, Field(max_length=1024), AfterValidator(fields.no_control_chars)]


def _key_url(value: str) -> str:
    # It goes inside URI="..." in the playlist (packaging.encrypt_playlist).
    if any(char in value for char in '" \t\r\n'):
        raise ValueError("must not contain quotes or spaces")
    return value


KeyUrl = Annotated[fields.NotifyUrl, AfterValidator(_key_url)]


class _Part(BaseModel):
    # Unknown members are ignored, as the vendor's API ignores unknown parameters (SPEC.md 1).
    model_config = ConfigDict(frozen=True, extra="ignore")


class RenditionSpec(_Part):
    """One rung of adaptive_streams; None inherits the template's value."""

    vcodec: VideoCodec | None = None
    quality: Quality | None = None
    resolution: fields.Resolution | None = None
    framerate: Framerate | None = None
    video_bitrate: Kbps | None = None
    audio_bitrate: AudioBitrate | None = None


class GopSpec(_Part):
    size: GopFrames = 0  # frames; wins over seconds
    seconds: GopSeconds = 0


class SegmentSpec(_Part):
    """HLS/DASH segments; None takes the format's default (ts for hls, fmp4 for dash; 4 s)."""

    type: SegType | None = None
    time: SegTime | None = None


class AudioLayout(_Part):
    sample_rate: SampleRateHz = 0  # Hz; 0 keeps the source's
    channels: Channels = 0  # 0 keeps the source's


class LogoSpec(_Part):
    path: fields.MediaUrl = ""
    size: fields.LogoSize = ""  # "WxH", "" keeps the image's
    offset: fields.LogoPosition = ""  # "X:Y" or "x=<expr>:y=<expr>"


class ThumbnailSpec(_Part):
    """Snapshots (transcode/thumbnails.py says how the zeros are read)."""

    start_point: Seconds = 0
    interval: Seconds = 0
    number: ThumbnailCount = 0
    width: ThumbnailSide = 0
    height: ThumbnailSide = 0


class EncryptionSpec(_Part):
    provider: Short | None = None
    mode: Short | None = None
    key_url: KeyUrl | None = None
    http_method: Annotated[Literal["GET", "POST"], BeforeValidator(str.upper)] | None = None
    headers: Annotated[dict[HeaderName, HeaderValue], Field(max_length=32)] | None = None
    drm_systems: Annotated[list[Short], Field(max_length=8)] | None = None


# Vendor field -> (group, field) inside TemplateSpec; the other vendor fields keep their names.
FLAT_FIELDS: dict[str, tuple[str, str]] = {
    "gop_size": ("gop", "size"),
    "gop_seconds": ("gop", "seconds"),
    "seg_type": ("segments", "type"),
    "seg_time": ("segments", "time"),
    "audio_sample_rate": ("audio", "sample_rate"),
    "audio_channels": ("audio", "channels"),
    "logo_path": ("logo", "path"),
    "logo_size": ("logo", "size"),
    "logo_offset": ("logo", "offset"),
}
_VENDOR_NAMES = {inner: vendor for vendor, inner in FLAT_FIELDS.items()}
_GROUPS = {group for group, _ in FLAT_FIELDS.values()}


class InvalidField(ValueError):
    """A template value breaking a rule; `field` in the vendor's spelling (`adaptive_streams[0]
    .resolution`), so both a 1002 at the edge and a 2003 in the worker can name it."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        super().__init__(f"template field {field} is invalid: {value!r} ({reason})")
        self.field, self.value, self.reason = field, value, reason

    def __repr__(self) -> str:
        return f"InvalidField({self.field!r}, {self.value!r}, {self.reason!r})"


class TemplateSpec(_Part):
    """One template, both generations; every field has the value that applies."""

    description: fields.Text = ""
    format: Format = "mp4"
    vcodec: VideoCodec = "h264"
    acodec: fields.AudioCodec = "aac"
    trans_mode: Short = ""
    resolution: fields.Resolution = ""
    framerate: Framerate = 0
    quality: Quality = 5
    video_bitrate: Kbps = 0
    audio_bitrate: AudioBitrate = 64000
    gop: GopSpec = GopSpec()
    segments: SegmentSpec = SegmentSpec()
    audio: AudioLayout = AudioLayout()
    logo: LogoSpec = LogoSpec()
    renditions: Annotated[tuple[RenditionSpec, ...], Field(max_length=MAX_RENDITIONS)] = ()
    thumbnail: ThumbnailSpec | None = None
    encryption: EncryptionSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _group_vendor_fields(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not any(
            k in data for k in (*FLAT_FIELDS, "adaptive_streams")
        ):
            return data
        grouped: dict[str, Any] = {k: v for k, v in data.items() if k not in FLAT_FIELDS}
        if "adaptive_streams" in grouped:
            grouped["renditions"] = grouped.pop("adaptive_streams") or ()
        for vendor, (group, name) in FLAT_FIELDS.items():
            if vendor in data:
                grouped.setdefault(group, {})
                grouped[group] = {**grouped[group], name: data[vendor]}
        return grouped

    def vendor_fields(self) -> dict[str, Any]:
        """The fields the vendor names flat, in its spelling (`seg_time`, `logo_offset`)."""
        nested = {*_GROUPS, "renditions", "thumbnail", "encryption"}
        values = {
            name: getattr(self, name) for name in type(self).model_fields if name not in nested
        }
        for vendor, (group, name) in FLAT_FIELDS.items():
            values[vendor] = getattr(getattr(self, group), name)
        return values

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> TemplateSpec:
        """From vendor-named fields (None: not given); InvalidField naming the first bad one."""
        given = {key: value for key, value in values.items() if value is not None}
        try:
            return cls.model_validate(given)
        except ValidationError as error:
            first = error.errors()[0]
            field = vendor_field(first["loc"])
            value = first.get("input")
            reason = str(first["msg"]).removeprefix("Value error, ")
            raise InvalidField(field, value, reason) from None

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> TemplateSpec:
        """A stored template row or task snapshot: its columns, v1's fields in `extra`
        (rows written before TemplateSpec have that shape too)."""
        extra = stored.get("extra") or {}
        merged = {**extra, **{k: v for k, v in stored.items() if k != "extra"}}
        return cls.from_fields(merged)

    @classmethod
    def from_task(cls, snapshot: Mapping[str, Any]) -> TemplateSpec:
        """A task's template snapshot; TaskFailed 2003 naming the field that breaks a rule (a
        row written under older rules, or by hand)."""
        try:
            return cls.from_stored(snapshot)
        except InvalidField as bad:
            raise TaskFailed(TRANSCODE_FAILED, str(bad)) from None


def vendor_field(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as the vendor names the field: `logo_offset`,
    `adaptive_streams[1].resolution`, `thumbnail.number`."""
    parts = [part for part in loc if not (isinstance(part, str) and part.startswith("function-"))]
    if not parts:
        return "template"
    head, rest = parts[0], parts[1:]
    if head in _GROUPS and rest and isinstance(rest[0], str):
        return _VENDOR_NAMES.get((str(head), rest[0]), f"{head}.{rest[0]}")
    name = "adaptive_streams" if head == "renditions" else str(head)
    for part in rest:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name
