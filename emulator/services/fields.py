"""Field types and checks shared by both API generations (SPEC.md sections 3-5)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictBool

NAME_MAX = 64
URL_MAX = 4096
TEXT_MAX = 1024

Text = Annotated[str, Field(max_length=TEXT_MAX)]
Flag = StrictBool

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RESOLUTION = re.compile(r"^(?:(?P<height>\d{1,4})p|(?P<w>\d{1,5})x(?P<h>\d{1,5}))$")
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")
_OFFSET = re.compile(r"^(\d{1,5}):(\d{1,5})$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IPV4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
INPUT_SCHEMES = ("http://", "https://", "s3://", "oss://")


def no_control_chars(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(no_control_chars)]


def resolution(value: str) -> str:
    """`""`/`"0"`/`"0x0"` keep the source; `NNNp` a height; `WxH` an exact even size."""
    if value in ("", "0", "0x0"):
        return value
    match = _RESOLUTION.match(value)
    if not match:
        raise ValueError("must be empty, '0', 'NNNp' (e.g. 720p) or 'WxH' (e.g. 1280x720)")
    sides = [int(match["height"])] if match["height"] else [int(match["w"]), int(match["h"])]
    if any(side < 16 or side > 8192 or side % 2 for side in sides):
        raise ValueError("sides must be even numbers from 16 to 8192")
    return value


def logo_size(value: str) -> str:
    if not value:
        return value
    match = _SIZE.match(value)
    if not match or not all(0 < int(side) <= 8192 for side in match.groups()):
        raise ValueError("must be 'WxH' with positive sides, e.g. 64x64")
    return value


def logo_offset(value: str) -> str:
    if value and not _OFFSET.match(value):
        raise ValueError("must be 'X:Y' in pixels from the top-left corner, e.g. 10:10")
    return value


def media_url(value: str) -> str:
    """An input or logo URL: http(s), s3 or oss only."""
    no_control_chars(value)
    if value and not value.startswith(INPUT_SCHEMES):
        raise ValueError("must start with http://, https://, s3:// or oss://")
    if value.startswith(("s3://", "oss://")) and "/" not in value.split("://", 1)[1].strip("/"):
        raise ValueError("must name a bucket and a key, e.g. s3://bucket/key.mp4")
    return value


def http_url(value: str) -> str:
    """A callback URL: http or https."""
    no_control_chars(value)
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


def object_key(value: str) -> str:
    """An output key: relative, no `..` segment, no backslash or control character."""
    no_control_chars(value)
    if value.startswith("/"):
        raise ValueError("must not start with '/'")
    if "\\" in value:
        raise ValueError("must not contain a backslash")
    if ".." in value.split("/"):
        raise ValueError("must not contain a '..' segment")
    return value


def bucket_name(value: str) -> str:
    """S3 bucket naming rules (3-63 chars, lowercase, digits, dots, hyphens)."""
    if not _BUCKET.match(value) or ".." in value or _IPV4.match(value):
        raise ValueError(
            "must follow S3 bucket naming rules: 3-63 characters of lowercase letters, digits, "
            "dots and hyphens, starting and ending with a letter or digit"
        )
    if value.startswith("xn--") or value.endswith("-s3alias"):
        raise ValueError("must not start with 'xn--' or end with '-s3alias'")
    return value


def prefix(value: str) -> str:
    object_key(value)
    return value.strip("/")


Resolution = Annotated[str, Field(max_length=16), AfterValidator(resolution)]
LogoSize = Annotated[str, Field(max_length=16), AfterValidator(logo_size)]
LogoOffset = Annotated[str, Field(max_length=TEXT_MAX), AfterValidator(logo_offset)]
MediaUrl = Annotated[str, Field(max_length=URL_MAX), AfterValidator(media_url)]
ObjectKey = Annotated[str, Field(min_length=1, max_length=URL_MAX), AfterValidator(object_key)]
Prefix = Annotated[str, Field(max_length=URL_MAX), AfterValidator(prefix)]
Bucket = Annotated[str, Field(max_length=63), AfterValidator(bucket_name)]
NotifyUrl = Annotated[str, Field(max_length=URL_MAX), AfterValidator(http_url)]
Secret = Annotated[str, Field(max_length=URL_MAX), AfterValidator(no_control_chars)]
Label = Annotated[str, Field(max_length=TEXT_MAX), AfterValidator(no_control_chars)]


# -- fields of the current generation (/vodencoding/v1, issue 7) ----------------------------

# Overlay expressions: numbers, variables (W, h, main_w, t...), operators and function calls;
# no quotes, brackets or semicolons, so a template cannot reach into the filtergraph.
_EXPRESSION = re.compile(r"^[\w+\-*/^().,\s]+$")
# AAC's sample rates (ffmpeg's aac encoder refuses others).
SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
_SAMPLE_RATE = re.compile(r"^(\d{1,6}(?:\.\d{1,3})?)(k?)$")


def logo_position(value: str) -> str:
    """`X:Y` pixels, or overlay expressions: `x=(W-w)/2:y=(H-h)/2`, `W-w-10:H-h-10`."""
    if not value:
        return value
    parts = [part.strip() for part in value.split(":")]
    keyed = [part.partition("=") for part in parts]
    if any(sep for _, sep, _ in keyed):
        keys = [key.strip() for key, _, _ in keyed]
        expressions = [expression for _, _, expression in keyed]
        valid = set(keys) <= {"x", "y"} and len(set(keys)) == len(keys) <= 2
    else:
        expressions, valid = parts, len(parts) == 2
    if not valid or not all(_EXPRESSION.match(e) for e in expressions):
        raise ValueError("must be 'X:Y' or overlay expressions 'x=<expr>:y=<expr>'")
    return value


def sample_rate_hz(value: str) -> int:
    """`48k` -> 48000, `44.1k` -> 44100, `44100` -> 44100; ValueError otherwise."""
    match = _SAMPLE_RATE.match(value.strip().lower())
    if not match:
        raise ValueError(f"{value!r} is not a sample rate")
    hz = round(float(match[1]) * (1000 if match[2] else 1))
    if hz not in SAMPLE_RATES:
        raise ValueError(f"must be one of {', '.join(str(r) for r in SAMPLE_RATES)} Hz")
    return hz


def sample_rate(value: str) -> str:
    if value:
        sample_rate_hz(value)
    return value


LogoPosition = Annotated[str, Field(max_length=TEXT_MAX), AfterValidator(logo_position)]
SampleRate = Annotated[str, Field(max_length=16), AfterValidator(sample_rate)]


def _aac(value: str) -> str:
    # The reference's query_template example spells it "acc" (SPEC.md section 4).
    return "aac" if value == "acc" else value


AudioCodec = Annotated[Literal["aac", "acc"], AfterValidator(_aac)]
