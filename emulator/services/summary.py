"""list_summary: successful tasks per UTC hour of finish_time (SPEC.md section 6)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from emulator.db.models import Task
from emulator.db.state import clock_now

HD_MIN_HEIGHT = 720
RESOLUTION_TYPES = ["sd", "hd"]


def summarize(*, session: Session, start_hours: int, end_hours: int) -> dict[str, Any]:
    """Counts and output durations in [now - start_hours h, now - end_hours h]."""
    now = clock_now(session)
    since, until = now - start_hours * 3600, now - end_hours * 3600
    hour = col(Task.finish_hour)
    keys = (hour, col(Task.region), col(Task.vcodec), col(Task.height))
    # One aggregate, grouped in the order of ix_tasks_summary: only group rows leave the
    # database. The hour range lets the index seek; finish_time then trims the partial hours.
    groups = session.execute(
        select(*keys, func.count(), func.sum(Task.duration))
        .where(
            col(Task.status) == "success",
            col(Task.deleted).is_(False),
            hour >= since // 3600 * 3600,
            hour <= until // 3600 * 3600,
            col(Task.finish_time) >= since,
            col(Task.finish_time) <= until,
        )
        .group_by(*keys)
    ).all()
    buckets: dict[int, dict[str, int | float]] = defaultdict(lambda: defaultdict(int))
    regions: set[str] = set()
    for stamp, region, codec, height, count, duration in groups:
        bucket = buckets[int(stamp)]
        kind = "hd" if height >= HD_MIN_HEIGHT else "sd"
        regions.add(region)
        for suffix in ("total", kind, f"{region}_{codec}_{kind}"):
            bucket[f"count_{suffix}"] += count
            bucket[f"duration_{suffix}"] += duration
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
