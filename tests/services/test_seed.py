"""The seed file on a real SQLite database: loading, applying twice, conflicts in one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.db.engine import Database
from emulator.db.models import AccessKey, Storage
from emulator.services import seed, templates

SEED: dict[str, Any] = {
    "storages": [
        {"storage_id": "seeded0000000001", "type": "s3", "region": "cn-hz", "bucket": "out"},
        {"storage_id": "seeded0000000002", "type": "s3", "region": "cn-hz", "bucket": "out",
         "prefix": "p", "notify": "http://127.0.0.1:9/hook"},
    ],
    "templates": [
        {"name": "mobile", "format": "hls", "resolution": "480p", "quality": 6},
        {"template_name": "ladder", "format": "hls",
         "adaptive_streams": [{"resolution": "360p"}, {"resolution": "240p"}]},
    ],
    "access_keys": [
        {"access_key_id": "SEEDAKID00000001", "access_key_secret": "s" * 32},
    ],
}  # fmt: skip


def write(tmp_path: Path, document: Any, name: str = "seed.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def apply(db: Database, path: Path, buckets: list[str] | None = None) -> None:
    loaded = seed.load(path)
    prepare = buckets.append if buckets is not None else None
    with db.write() as session:
        seed.apply(loaded, session=session, now=1.0, prepare_bucket=prepare)


def test_a_seed_is_applied_with_its_fixed_ids(db: Database, tmp_path: Path) -> None:
    buckets: list[str] = []
    apply(db, write(tmp_path, SEED), buckets)
    with db.read() as session:
        first = session.get(Storage, "seeded0000000001")
        second = session.get(Storage, "seeded0000000002")
        assert first is not None and second is not None
        assert (second.prefix, second.notify) == ("p", "http://127.0.0.1:9/hook")
        mobile = templates.get(session=session, name="mobile")
        assert (mobile.format, mobile.resolution, mobile.quality) == ("hls", "480p", 6)
        ladder = templates.get(session=session, name="ladder")
        assert len(ladder.extra["adaptive_streams"]) == 2
        key = session.get(AccessKey, "SEEDAKID00000001")
        assert key is not None and key.enabled
    assert buckets == ["out", "out"]


def test_applying_twice_keeps_the_equal_rows(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, SEED)
    apply(db, path)
    with db.read() as session:
        created = templates.get(session=session, name="mobile").template_id
    apply(db, path)  # the second start
    with db.read() as session:
        assert templates.get(session=session, name="mobile").template_id == created
        assert len(templates.list_all(session=session)) == 5 + 2  # built-ins and the seed's


def test_yaml_is_read_too(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text("templates:\n  - name: from-yaml\n    resolution: 720p\n")
    apply(db, path)
    with db.read() as session:
        assert templates.get(session=session, name="from-yaml").resolution == "720p"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"templates": [{"name": "mobile", "format": "mp4"}]},
            "template 'mobile' exists with other values (format: 'hls', the seed says 'mp4')",
        ),
        (
            {"storages": [{"storage_id": "seeded0000000001", "type": "s3", "region": "cn-hz",
                           "bucket": "elsewhere"}]},
            "storage seeded0000000001 exists with other values (bucket: 'out', the seed says",
        ),
        (
            {"access_keys": [{"access_key_id": "SEEDAKID00000001",
                              "access_key_secret": "t" * 32}]},
            "access key 'SEEDAKID00000001' exists with another secret",
        ),
        (
            {"storages": [{"storage_id": "another000000001", "type": "s3", "region": "cn-hz",
                           "bucket": "out"}]},
            "storage another000000001: storage seeded0000000001 has the same type, region",
        ),
        ({"templates": [{"name": "480p"}]}, "template '480p' is a built-in template"),
    ],
)  # fmt: skip
def test_a_conflicting_row_is_reported_in_one_line(
    db: Database, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    apply(db, write(tmp_path, SEED))
    with pytest.raises(seed.SeedError) as raised:
        apply(db, write(tmp_path, change, "other.json"))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert str(tmp_path / "other.json") in str(raised.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not JSON"),
        ([1], "must be an object"),
        ({"buckets": []}, "unknown section 'buckets'"),
        ({"storages": [{"type": "s3", "region": "r", "bucket": "b"}]}, "storages[0].storage_id"),
        ({"storages": [{"storage_id": "x", "type": "gcs", "region": "r", "bucket": "b"}]},
         "storages[0].type"),
        ({"templates": [{"name": "t", "quality": 11}]}, "templates[0].quality"),
        ({"templates": [{"quality": 5}]}, "template_name is required"),
        ({"access_keys": [{"access_key_id": "short", "access_key_secret": "s" * 32}]},
         "access_keys[0].access_key_id: must be 16"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_before_anything_is_written(
    db: Database, tmp_path: Path, document: Any, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(seed.SeedError) as raised:
        seed.load(path)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(seed.SeedError, match=r"seed file .*missing\.json: cannot be read"):
        seed.load(tmp_path / "missing.json")


def test_a_template_over_the_pixel_rate_is_refused(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, {"templates": [{"name": "huge", "resolution": "8192x8192",
                                           "framerate": 120}]})  # fmt: skip
    loaded = seed.load(path)
    with pytest.raises(seed.SeedError) as raised, db.write() as session:
        seed.apply(loaded, session=session, now=1.0, max_pixel_rate=497_664_000)
    assert "template 'huge': " in str(raised.value)
    assert "EMULATOR_MAX_PIXEL_RATE" in str(raised.value)
