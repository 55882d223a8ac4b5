"""Containers and streaming packages: mp4/flv files, HLS (ts or fMP4, master + variants), DASH.

Layout (every name relative, beside the main output, so manifests play from any base URL):

    hls                  <b>.m3u8  <b>_00000.ts ...            (fmp4: <b>_init.mp4 <b>_00000.m4s)
    hls + ladder         <b>.m3u8 (master)  <b>_<i>.m3u8  <b>_<i>_00000.ts ...
    dash                 <b>.mpd  <b>_init_<rep>.m4s  <b>_chunk_<rep>_00001.m4s ...

HLS AES-128 (RFC 8216 section 5.2) is applied after ffmpeg by `encrypt_playlist`: each media
segment is AES-128-CBC with PKCS7 padding and the segment's media sequence number as IV, and
`#EXT-X-KEY:METHOD=AES-128,URI=...` precedes the first segment (after `#EXT-X-MAP`, so an fMP4
init section stays clear). We do it ourselves because ffmpeg 5.1 cannot encrypt fMP4 HLS, and
so the key never touches the disk.
"""

from __future__ import annotations

import os
import re
import secrets
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from emulator.errors import NOT_EMULATED, TaskFailed
from emulator.template_spec import EncryptionSpec, TemplateSpec
from emulator.transcode.probe import avc_codecs, playlist_segments, probe

HLS_SEGMENT_S = 4
SUFFIXES = {"mp4": ".mp4", "hls": ".m3u8", "flv": ".flv", "dash": ".mpd"}
SEG_TYPES = {"ts": ".ts", "fmp4": ".m4s"}
AES_128 = "aes-128"

_MPD_NS = "{urn:mpeg:dash:schema:mpd:2011}"
_MODE_ALIASES = {"aes-128": AES_128, "aes128": AES_128, "aes_128": AES_128, "aes-128-cbc": AES_128}


@dataclass(frozen=True)
class Encryption:
    """HLS AES-128: the key (never logged, never written to disk) and where players fetch it."""

    mode: str
    key_uri: str
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class Packaging:
    format: str  # mp4 | flv | hls | dash
    seg_type: str = ""  # ts | fmp4 for hls, fmp4 for dash, "" for files
    seg_time: float = 0.0  # target segment seconds (hls, dash)
    master: bool = False  # hls with adaptive_streams: a master playlist over variants
    encryption: Encryption | None = None

    @property
    def segmented(self) -> bool:
        return self.format in ("hls", "dash")


def parse(spec: TemplateSpec, *, media_key_url: str) -> Packaging:
    """The package the template asks for; 2007 for what the emulator cannot make."""
    fmt = spec.format
    ladder = bool(spec.renditions)
    if ladder and fmt not in ("hls", "dash"):
        raise TaskFailed(
            NOT_EMULATED,
            f"adaptive_streams with format {fmt} is not emulated (a ladder is hls or dash)",
        )
    encryption = _encryption(spec.encryption, fmt, media_key_url)
    if fmt not in ("hls", "dash"):
        # seg_type/seg_time only mean something for streaming formats; a file ignores them.
        return Packaging(format=fmt, encryption=encryption)
    seg_type = spec.segments.type or ("ts" if fmt == "hls" else "fmp4")
    if fmt == "dash" and seg_type == "ts":
        raise TaskFailed(NOT_EMULATED, "seg_type ts with format dash is not emulated (fMP4 only)")
    return Packaging(
        format=fmt,
        seg_type=seg_type,
        seg_time=float(spec.segments.time or HLS_SEGMENT_S),
        master=ladder and fmt == "hls",
        encryption=encryption,
    )


def _encryption(config: EncryptionSpec | None, fmt: str, media_key_url: str) -> Encryption | None:
    if config is None:
        return None
    if config.drm_systems:
        raise TaskFailed(
            NOT_EMULATED,
            f"encryption drm_systems ({', '.join(config.drm_systems)}) are not emulated",
        )
    raw_mode = (config.mode or AES_128).strip().lower()
    mode = _MODE_ALIASES.get(raw_mode)
    if mode is None:
        raise TaskFailed(
            NOT_EMULATED, f"encryption mode {raw_mode!r} is not emulated (only aes-128 on hls)"
        )
    if fmt != "hls":
        raise TaskFailed(NOT_EMULATED, f"encryption mode aes-128 with format {fmt} is not emulated")
    key_url = (config.key_url or "").strip()
    if not key_url and not media_key_url:
        raise ValueError("encryption without key_url needs the emulator's media_key_url")
    return Encryption(mode=mode, key_uri=key_url or media_key_url, key=secrets.token_bytes(16))


def muxer_options(
    packaging: Packaging, *, out_dir: Path, basename: str, audio: bool, variants: int
) -> tuple[dict[str, str], Path]:
    """The muxer's options (output keywords) and the path ffmpeg writes to (a %v pattern for
    a master)."""
    if packaging.format == "mp4":
        return {"f": "mp4", "movflags": "+faststart"}, out_dir / f"{basename}.mp4"
    if packaging.format == "flv":
        return {"f": "flv"}, out_dir / f"{basename}.flv"
    if packaging.format == "dash":
        return _dash_options(packaging, basename, audio), out_dir / f"{basename}.mpd"
    stem = f"{basename}_%v" if packaging.master else basename
    suffix = SEG_TYPES[packaging.seg_type]
    options = {
        "f": "hls",
        "hls_time": f"{packaging.seg_time:g}",
        "hls_playlist_type": "vod",
        "hls_list_size": "0",
        "hls_segment_filename": str(out_dir / f"{stem}_%05d{suffix}"),
    }
    if packaging.seg_type == "fmp4":
        options.update({"hls_segment_type": "fmp4", "hls_fmp4_init_filename": f"{stem}_init.mp4"})
    if packaging.master:
        streams = [f"v:{i},a:{i}" if audio else f"v:{i}" for i in range(variants)]
        options.update({"master_pl_name": f"{basename}.m3u8", "var_stream_map": " ".join(streams)})
    return options, out_dir / f"{stem}.m3u8"


def _dash_options(packaging: Packaging, basename: str, audio: bool) -> dict[str, str]:
    return {
        "f": "dash",
        "seg_duration": f"{packaging.seg_time:g}",
        "use_template": "1",
        "use_timeline": "1",
        "init_seg_name": f"{basename}_init_$RepresentationID$.m4s",
        "media_seg_name": f"{basename}_chunk_$RepresentationID$_$Number%05d$.m4s",
        "adaptation_sets": "id=0,streams=v id=1,streams=a" if audio else "id=0,streams=v",
    }


def media_playlists(main: Path) -> list[Path]:
    """The media playlists of an HLS output: the variants of a master, or the playlist itself."""
    if "#EXT-X-STREAM-INF" not in main.read_text(encoding="utf-8", errors="replace"):
        return [main]
    return [path for path in playlist_segments(main) if path.suffix == ".m3u8"]


def encrypt_playlist(playlist: Path, encryption: Encryption) -> None:
    """Encrypt a media playlist's segments in place and add its #EXT-X-KEY (once)."""
    lines = playlist.read_text(encoding="utf-8").splitlines()
    if any(line.startswith("#EXT-X-KEY") for line in lines):
        return
    sequence = 0
    keyed = False
    result = []
    for line in lines:
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(line.partition(":")[2])
        if line.startswith("#EXTINF") and not keyed:
            result.append(f'#EXT-X-KEY:METHOD=AES-128,URI="{encryption.key_uri}"')
            keyed = True
        if line.strip() and not line.startswith("#"):
            _encrypt_file(playlist.parent / line.strip(), encryption.key, sequence)
            sequence += 1
        result.append(line)
    _replace(playlist, "\n".join(result) + "\n")


def is_encrypted(playlist: Path) -> bool:
    return "#EXT-X-KEY:METHOD=AES-128" in playlist.read_text(encoding="utf-8", errors="replace")


def _encrypt_file(path: Path, key: bytes, sequence: int) -> None:
    padder = padding.PKCS7(128).padder()
    plain = padder.update(path.read_bytes()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(sequence.to_bytes(16, "big"))).encryptor()
    path.write_bytes(encryptor.update(plain) + encryptor.finalize())


def complete_master(master: Path, variants: list[str]) -> None:
    """Write the master afresh if ffmpeg left variants out of it.

    ffmpeg 5.1's hls muxer skips a variant whose bitrate it does not know (CRF video without
    audio) and writes a master without it; BANDWIDTH is set afterwards from measurements.
    """
    if len(re.findall(r"#EXT-X-STREAM-INF", master.read_text(encoding="utf-8"))) == len(variants):
        return
    version = re.search(r"#EXT-X-VERSION:(\d+)", (master.parent / variants[0]).read_text())
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{version[1] if version else 3}"]
    for name in variants:
        info = probe(master.parent / name)
        attributes = f"BANDWIDTH=0,RESOLUTION={info.width}x{info.height}"
        if codecs := avc_codecs(master.parent / name):
            attributes += f',CODECS="{codecs}"'
        lines += [f"#EXT-X-STREAM-INF:{attributes}", name, ""]
    _replace(master, "\n".join(lines))


def set_measured_bandwidth(master: Path, measured: Mapping[str, tuple[int, int]]) -> None:
    """Rewrite each variant's BANDWIDTH (peak) and AVERAGE-BANDWIDTH from measured bits/s.

    ffmpeg writes the configured bitrate, which is only the audio's in CRF mode, so a player's
    ABR logic would see nonsense; RFC 8216 section 4.3.4.2 asks for the peak segment bitrate.
    """
    lines = master.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines[:-1]):
        uri = lines[index + 1].strip()
        if line.startswith("#EXT-X-STREAM-INF:") and uri in measured:
            peak, average = measured[uri]
            attributes = re.sub(r"(AVERAGE-)?BANDWIDTH=\d+,?", "", line.partition(":")[2])
            head = f"#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average}"
            lines[index] = f"{head},{attributes}".rstrip(",")
    _replace(master, "\n".join(lines) + "\n")


def rendition_outputs(packaging: Packaging, main: Path) -> list[dict[str, Any]]:
    """Per rendition of a ladder: resolution, bitrate (kbit/s) and, for HLS, its playlist.

    From the manifests: the master's RESOLUTION and (measured) AVERAGE-BANDWIDTH, the MPD's
    video Representations. [] for a single file or media playlist.
    """
    if packaging.master:
        text = main.read_text(encoding="utf-8")
        found = re.findall(r"#EXT-X-STREAM-INF:(.*)\n(.+)", text)
        return [
            {
                "resolution": _attribute(attributes, "RESOLUTION"),
                "bitrate": int(_attribute(attributes, "AVERAGE-BANDWIDTH") or 0) / 1000,
                "key": main.parent / uri.strip(),
            }
            for attributes, uri in found
        ]
    if packaging.format == "dash":
        root = ElementTree.parse(main).getroot()  # our own ffmpeg's output
        return [
            {
                "resolution": f"{rep.get('width')}x{rep.get('height')}",
                "bitrate": int(rep.get("bandwidth", "0")) / 1000,
            }
            for rep in root.iter(f"{_MPD_NS}Representation")
            if rep.get("width")
        ]
    return []


def _attribute(attributes: str, name: str) -> str:
    match = re.search(rf"(?:^|,){name}=([^,]*)", attributes)
    return match[1] if match else ""


def measure_variant(playlist: Path) -> tuple[int, int]:
    """(peak, average) bits/s of a media playlist's segments (init section counted in average)."""
    lines = playlist.read_text(encoding="utf-8").splitlines()
    peak = 0.0
    total_bytes = 0
    total_s = 0.0
    seconds = 0.0
    for line in lines:
        if line.startswith("#EXTINF:"):
            seconds = float(line.partition(":")[2].split(",")[0])
        elif line.strip() and not line.startswith("#"):
            size = (playlist.parent / line.strip()).stat().st_size
            total_bytes += size
            total_s += seconds
            peak = max(peak, size * 8 / seconds if seconds > 0 else 0.0)
    for uri in re.findall(r'#EXT-X-MAP:URI="([^"]*)"', "\n".join(lines)):
        total_bytes += (playlist.parent / uri).stat().st_size
    average = total_bytes * 8 / total_s if total_s > 0 else 0.0
    return round(max(peak, average)), round(average)


def _replace(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
