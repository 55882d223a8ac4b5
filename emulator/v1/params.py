"""v1 request parameters in the vendor SDK's names and habits.

The Go SDK marshals whole structs, so every field arrives, unset ones as zero values (`""`,
`0`, `false`, `null`, `[]`, `{}`): v1 reads a zero value as "not given". It also spells the
audio bitrate `audioBitrate` in one struct, and some clients say `name` for `template_name`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Request
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, model_validator

from emulator import template_spec as spec
from emulator.api.params import VendorParams, raw_params, validate
from emulator.db.tasks import STATUSES
from emulator.services import fields
from emulator.v1.views import STATUS_FROM_V1

M = TypeVar("M", bound=BaseModel)

PREFIX = "/vodencoding/v1"
ALIASES = {"name": "template_name", "audioBitrate": "audio_bitrate"}
DEFAULT_COUNT = 50


def is_zero(value: Any) -> bool:
    if value is None or value is False or value in ("", [], {}):
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and value == 0


def strip_zeros(value: Any) -> Any:
    """Drop zero-valued members of objects, at every depth (lists keep their items)."""
    if isinstance(value, dict):
        kept = {key: strip_zeros(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if not is_zero(item)}
    if isinstance(value, list):
        return [strip_zeros(item) for item in value]
    return value


def normalize(raw: dict[str, Any]) -> dict[str, Any]:
    given = strip_zeros(raw)
    for alias, name in ALIASES.items():
        if alias in given:
            given.setdefault(name, given.pop(alias))
    assert isinstance(given, dict)
    return given


def v1_params(model: type[M]) -> Callable[[Request], Awaitable[M]]:
    """A dependency parsing `model` the v1 way (zero values dropped, aliases renamed)."""

    async def dependency(request: Request) -> M:
        return validate(model, normalize(await raw_params(request)))

    dependency.__name__ = f"v1_params_{model.__name__}"
    return dependency


def bits_per_second(value: int) -> int:
    """An older vendor document lists audio bitrates 32-128 (kbit/s): under 1000 means kbit/s."""
    return value * 1000 if value < 1000 else value


def unix_time(value: Any) -> float:
    """Unix seconds (10 digits) or milliseconds (13 digits), as seconds."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or len(text) not in (10, 13):
        raise ValueError("must be unix seconds (10 digits) or milliseconds (13 digits)")
    return int(text) / 1000 if len(text) == 13 else float(text)


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


# The range is the template's (TemplateSpec); v1 only reads numbers under 1000 as kbit/s.
AudioBitrate = Annotated[
    int,
    spec.NotBool,
    Field(ge=1, description="bit/s (under 1000: kbit/s)"),
    AfterValidator(bits_per_second),
    AfterValidator(spec.audio_bitrate),
]
SampleRate = Annotated[fields.SampleRate, BeforeValidator(_text)]
UnixTime = Annotated[float, BeforeValidator(unix_time)]


class Rendition(spec.RenditionSpec):
    """One rung of adaptive_streams; a field left out inherits the template's."""

    audio_bitrate: AudioBitrate | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Rendition:
        if not self.model_dump(exclude_none=True):
            raise ValueError("a rendition needs at least one non-zero field")
        return self


class TemplateFields(VendorParams):
    """Every v1 template field, with TemplateSpec's types; None means "not given"."""

    description: fields.Text | None = None
    format: spec.Format | None = None
    vcodec: spec.VideoCodec | None = None
    acodec: fields.AudioCodec | None = None
    trans_mode: spec.Short | None = None
    resolution: fields.Resolution | None = None
    framerate: spec.Framerate | None = None
    quality: spec.Quality | None = None
    video_bitrate: spec.Kbps | None = None
    gop_size: spec.GopFrames | None = None
    gop_seconds: spec.GopSeconds | None = None
    seg_type: spec.SegType | None = None
    seg_time: spec.SegTime | None = None
    audio_bitrate: AudioBitrate | None = None
    audio_sample_rate: SampleRate | None = None
    audio_channels: spec.Channels | None = None
    logo_path: fields.MediaUrl | None = None
    logo_size: fields.LogoSize | None = None
    logo_offset: fields.LogoPosition | None = None
    adaptive_streams: (
        Annotated[list[Rendition], Field(min_length=1, max_length=spec.MAX_RENDITIONS)] | None
    ) = None
    encryption: spec.EncryptionSpec | None = None
    thumbnail: spec.ThumbnailSpec | None = None

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude={"template_name"}, exclude_none=True)


class AddTemplate(TemplateFields):
    template_name: fields.Name


class UpdateTemplate(TemplateFields):
    template_name: fields.Name


class ByTemplateName(VendorParams):
    template_name: fields.Name


class AddStorage(VendorParams):
    region: fields.Label = Field(min_length=1, description="e.g. cn-hangzhou")
    type: Literal["s3", "oss"]
    bucket: fields.Bucket
    prefix: fields.Prefix = ""
    storage_ak: fields.Secret = ""
    storage_sk: fields.Secret = ""
    notify: fields.NotifyUrl = ""
    extra: Annotated[str, Field(max_length=fields.URL_MAX)] = ""
    name_rule: fields.Label = ""

    def columns(self) -> dict[str, Any]:
        return self.model_dump(exclude={"extra", "name_rule"})

    def extras(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump(include={"extra", "name_rule"}).items() if v}


class ByStorageId(VendorParams):
    storage_id: fields.Label


class CreateTask(VendorParams):
    template_name: fields.Name
    input: fields.MediaUrl
    output: fields.ObjectKey = Field(description="a key, or s3://<the storage's bucket>/key")
    storage_id: fields.Label


class ByTaskId(VendorParams):
    task_id: Annotated[str, Field(min_length=1, max_length=64)]


class ListTask(VendorParams):
    """Paging by count/start_num or limit/skip (count/start_num win when both are given)."""

    start_time: UnixTime
    end_time: UnixTime
    status: Literal[("", *STATUSES, *STATUS_FROM_V1)] = ""  # type: ignore[valid-type]
    count: Annotated[int, Field(ge=0, le=1000)] = 0
    limit: Annotated[int, Field(ge=0, le=1000)] = 0
    start_num: Annotated[int, Field(ge=0, le=10_000_000)] = 0
    skip: Annotated[int, Field(ge=0, le=10_000_000)] = 0

    def query(self) -> dict[str, Any]:
        """Keyword arguments of services.tasks.page."""
        return {
            "start_time": self.start_time,
            "end_time": self.end_time,
            "status": STATUS_FROM_V1.get(self.status, self.status),
            "start_num": self.start_num or self.skip,
            "count": self.count or self.limit or DEFAULT_COUNT,
        }
