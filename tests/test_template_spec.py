"""TemplateSpec: both generations' fields in one model, read back from stored rows."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.errors import TRANSCODE_FAILED, TaskFailed
from emulator.template_spec import InvalidField, RenditionSpec, TemplateSpec
from emulator.v1.params import normalize

# A task's snapshot as every release so far wrote it: the template row, v1's fields in extra.
STORED_ROW: dict[str, Any] = {
    "template_id": "0123456789abcdef0123456789abcdef",
    "name": "ladder",
    "template_type": "custom",
    "description": "",
    "format": "hls",
    "quality": 7.0,
    "framerate": 0,
    "resolution": "",
    "vcodec": "h264",
    "acodec": "aac",
    "audio_bitrate": 64000,
    "logo_path": "",
    "logo_size": "",
    "logo_offset": "",
    "extra": {
        "gop_seconds": 2,
        "seg_type": "fmp4",
        "seg_time": 6,
        "audio_sample_rate": "48k",
        "adaptive_streams": [{"resolution": "720p"}, {"resolution": "360p", "quality": 4.6}],
        "thumbnail": {"interval": 5, "number": 3},
    },
    "create_time": 1_700_000_000.0,
}


def test_a_stored_row_reads_with_its_extra_fields_grouped() -> None:
    spec = TemplateSpec.from_stored(STORED_ROW)

    assert (spec.format, spec.quality) == ("hls", 7.0)
    assert (spec.gop.size, spec.gop.seconds) == (0, 2)
    assert (spec.segments.type, spec.segments.time) == ("fmp4", 6)
    assert spec.audio.sample_rate == 48000
    assert spec.renditions == (
        RenditionSpec(resolution="720p"),
        RenditionSpec(resolution="360p", quality=4.6),
    )
    assert spec.thumbnail is not None and spec.thumbnail.number == 3
    assert spec.encryption is None


def test_the_row_columns_win_over_extra() -> None:
    row = {**STORED_ROW, "extra": {**STORED_ROW["extra"], "format": "dash"}}

    assert TemplateSpec.from_stored(row).format == "hls"


def test_an_empty_snapshot_is_the_default_template() -> None:
    spec = TemplateSpec.from_stored({})

    assert (spec.format, spec.vcodec, spec.acodec, spec.quality) == ("mp4", "h264", "aac", 5)
    assert (spec.resolution, spec.framerate, spec.audio_bitrate) == ("", 0, 64000)
    assert spec.renditions == () and spec.thumbnail is None


def test_acc_is_read_as_aac() -> None:
    assert TemplateSpec.from_fields({"acodec": "acc"}).acodec == "aac"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"logo_offset": "1;2"}, "logo_offset"),
        ({"gop_size": -1}, "gop_size"),
        ({"audio_sample_rate": "47k"}, "audio_sample_rate"),
        ({"adaptive_streams": [{}, {"resolution": "8x8"}]}, "adaptive_streams[1].resolution"),
        ({"thumbnail": {"width": 1}}, "thumbnail.width"),
        ({"encryption": {"key_url": 'http://k/"x'}}, "encryption.key_url"),
        ({"quality": True}, "quality"),
    ],
)
def test_a_bad_value_is_named_as_the_vendor_names_it(values: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        TemplateSpec.from_fields(values)

    assert caught.value.field == field


@pytest.mark.parametrize("resolution", ["8p", "14x16", "16x8"])
def test_the_smallest_side_is_16_in_both_generations(resolution: str) -> None:
    with pytest.raises(InvalidField):
        TemplateSpec.from_fields({"resolution": resolution})
    with pytest.raises(InvalidField):
        TemplateSpec.from_fields({"adaptive_streams": [{"resolution": resolution}]})


def test_a_task_whose_snapshot_breaks_a_rule_fails_2003_naming_the_field() -> None:
    with pytest.raises(TaskFailed) as caught:
        TemplateSpec.from_task({**STORED_ROW, "extra": {"seg_time": 61}})

    assert caught.value.err_code == TRANSCODE_FAILED
    assert "template field seg_time is invalid" in caught.value.message


def test_v1_zero_values_are_dropped_once_in_its_mapping() -> None:
    """The Go SDK sends every field; after v1's mapping the zero ones change nothing."""
    zeros = {
        "format": "mp4",
        "gop_size": 0,
        "seg_type": "",
        "seg_time": 0,
        "audio_channels": 0,
        "adaptive_streams": [],
        "encryption": {"key_url": "", "headers": {}},
        "thumbnail": {"start_point": 0, "number": 0},
    }

    assert TemplateSpec.from_fields(normalize(zeros)) == TemplateSpec()


def test_vendor_fields_spell_the_flat_fields_as_the_vendor_does() -> None:
    spec = TemplateSpec.from_stored(STORED_ROW)
    flat = spec.vendor_fields()

    assert (flat["seg_type"], flat["seg_time"], flat["gop_seconds"]) == ("fmp4", 6, 2)
    assert flat["audio_sample_rate"] == 48000
    assert "adaptive_streams" not in flat and "gop" not in flat
    assert TemplateSpec.from_fields(flat).segments == spec.segments
