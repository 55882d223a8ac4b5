"""Tiny generated media for tests, the demo and benchmarks (lavfi sources, no fixtures on disk)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _run(args: list[str], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        args, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not make {path}: {done.stderr.strip()}")
    return path


def make_clip(
    path: Path,
    *,
    size: str = "160x120",
    rate: int = 15,
    duration: float = 1.0,
    audio: bool = True,
    vcodec: str = "libx264",
    video_source: str = "testsrc2",
) -> Path:
    """Write a `duration`-second clip to `path` (container from its suffix) and return `path`.

    `video_source` is a lavfi source with optional options, e.g. `testsrc2` or `color=c=black`;
    `size` and `rate` are appended to it.
    """
    name, _, options = video_source.partition("=")
    video = f"{name}={options + ':' if options else ''}size={size}:rate={rate}"
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    args += ["-f", "lavfi", "-i", video]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"]
    args += ["-t", f"{duration:g}", "-pix_fmt", "yuv420p", "-c:v", vcodec]
    if vcodec in ("libx264", "libx265"):
        args += ["-preset", "ultrafast"]
    if vcodec == "libx265":
        args += ["-x265-params", "log-level=error"]
    args += ["-c:a", "aac", "-b:a", "64k"] if audio else ["-an"]
    return _run([*args, str(path)], path)


def make_logo(path: Path, *, size: str = "16x16", color: str = "red") -> Path:
    """Write a one-frame solid-colour image (PNG unless the suffix says otherwise) to `path`."""
    args = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    args += ["-f", "lavfi", "-i", f"color=c={color}:s={size}", "-frames:v", "1", str(path)]
    return _run(args, path)
