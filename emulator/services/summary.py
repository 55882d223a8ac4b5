"""list_summary: successful tasks per UTC hour of finish_time (SPEC.md section 6)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from emulator.db.models import Task
from emulator.db.state import clock_now

HD_MIN_HEIGHT = 720
RESOLUTION_TYPES = ["sd", "hd"]


def summarize(*, session: Session, start_hours: int, end_hours: int) -> dict[str, Any]:
    """Counts and output durations in [now - start_hours h, now - end_hours h]."""
    now = clock_now(session)
    since, until = now - start_hours * 3600, now - end_hours * 3600
    done = session.exec(
        select(Task).where(
            col(Task.status) == "success",
            col(Task.deleted).is_(False),
            col(Task.finish_time) >= since,
            col(Task.finish_time) <= until,
        )
    ).all()
    buckets: dict[int, dict[str, int | float]] = defaultdict(lambda: defaultdict(int))
    regions: list[str] = []
    for task in done:
        assert task.finish_time is not None
        bucket = buckets[int(task.finish_time // 3600 * 3600)]
        region = str(task.storage.get("region", ""))
        codec = str(task.template.get("vcodec", "h264"))
        kind = "hd" if task.height >= HD_MIN_HEIGHT else "sd"
        if region not in regions:
            regions.append(region)
        for suffix in ("total", kind, f"{region}_{codec}_{kind}"):
            bucket[f"count_{suffix}"] += 1
            bucket[f"duration_{suffix}"] += task.duration
    rows = [_row(stamp, buckets[stamp]) for stamp in sorted(buckets)]
    return {
        "list": rows,
        "resolution_types": RESOLUTION_TYPES,
        "regions": sorted(regions),
        "num": len(rows),
    }


def _row(stamp: int, counts: dict[str, int | float]) -> dict[str, int]:
    row = {"time_stamp": stamp}
    for base in ("count", "duration"):
        for kind in ("total", "sd", "hd"):
            row[f"{base}_{kind}"] = 0
    for key, value in counts.items():
        row[key] = round(value)
    return row
