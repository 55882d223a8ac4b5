"""GET /_emulator/samples/{name}: built-in test clips, so a first task needs no file of one's own.

Each clip is made with ffmpeg's lavfi sources on its first request and kept in
`<data dir>/samples/`. Part of the control surface (absent with EMULATOR_CONTROL=off, under the
same Host rules), but open without the control token: a worker fetches samples as task inputs
and carries no token, and the clips hold nothing secret.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, Response

from emulator.api.deps import ContextDep
from emulator.transcode.clips import make_clip

router = APIRouter(prefix="/_emulator", tags=["emulator"])

SAMPLES_PATH = "/_emulator/samples/"


@dataclass(frozen=True)
class Sample:
    size: str
    rate: int
    duration_s: float
    description: str


SAMPLES: dict[str, Sample] = {
    "720p.mp4": Sample("1280x720", 30, 10, "10 s 1280x720 testsrc2 picture with a 440 Hz tone"),
    "240p.mp4": Sample("320x240", 15, 2, "2 s 320x240 testsrc2 picture with a 440 Hz tone"),
}

# One maker at a time per process: two first requests must not both run ffmpeg on one file.
_making = threading.Lock()


def sample_file(data_dir: Path, name: str) -> Path:
    """The clip's file in the data dir, made (atomically: temp file, then rename) if missing."""
    sample = SAMPLES[name]
    path = Path(data_dir) / "samples" / name
    if path.exists():
        return path
    with _making:
        if not path.exists():
            partial = path.with_name(f".{name}.{os.getpid()}.partial.mp4")
            try:
                make_clip(partial, size=sample.size, rate=sample.rate, duration=sample.duration_s)
                os.replace(partial, path)
            finally:
                partial.unlink(missing_ok=True)
    return path


def is_sample_path(path: str) -> bool:
    """Whether a URL path names one of the built-in samples."""
    return path.startswith(SAMPLES_PATH) and path.removeprefix(SAMPLES_PATH) in SAMPLES


@router.get("/samples")
def list_samples(ctx: ContextDep) -> dict[str, list[dict[str, str]]]:
    """The built-in sample clips and their URLs (task inputs that work out of the box)."""
    base = ctx.settings.api_base_url
    return {
        "samples": [
            {"name": name, "url": f"{base}{SAMPLES_PATH}{name}", "description": s.description}
            for name, s in SAMPLES.items()
        ]
    }


@router.get("/samples/{name}", response_model=None)
def get_sample(name: str, ctx: ContextDep) -> Response:
    """One sample clip (video/mp4; ranged GETs work, so players can seek)."""
    if name not in SAMPLES:
        detail = f"no sample {name!r}; choose from {sorted(SAMPLES)}"
        return JSONResponse({"code": 1004, "msg": "empty result", "detail": detail}, 404)
    return FileResponse(sample_file(ctx.settings.data_dir, name), media_type="video/mp4")
