"""The seed file (EMULATOR_SEED): storages with fixed ids, templates and access keys.

Applied at every start and after every reset, so scripted tests can hard-code a seeded
`storage_id`. Applying is idempotent: a row equal to the seed's is kept; a row that differs is a
conflict, reported in one line (start-up then fails) rather than silently overwritten.

    {"storages": [{"storage_id": "seeded0000000001", "type": "s3", "region": "cn-hz",
                   "bucket": "out"}],
     "templates": [{"name": "mobile", "format": "hls", "resolution": "480p"}],
     "access_keys": [{"access_key_id": "SEEDAKID00000001",
                      "access_key_secret": "seedSecretKey0123456789abcdefghi"}]}

Storages and templates take the fields of `/vodencoding/v1/add_storage` and `add_template`
(every field of both generations), checked by the same rules; `.yaml`/`.yml` files are read as
YAML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from emulator.api.params import validate
from emulator.db.models import AccessKey, Storage, Template
from emulator.errors import ApiError
from emulator.services import keys, storages, templates
from emulator.v1.params import AddStorage, AddTemplate, normalize

SECTIONS = ("storages", "templates", "access_keys")
_STORAGE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class SeedError(RuntimeError):
    """The seed file cannot be read or applied; the message is one line naming file and row."""


@dataclass(frozen=True)
class SeedStorage:
    storage_id: str
    columns: dict[str, Any]
    extra: dict[str, Any]


@dataclass(frozen=True)
class SeedTemplate:
    name: str
    columns: dict[str, Any]
    extra: dict[str, Any]


@dataclass(frozen=True)
class Seed:
    path: Path
    storages: list[SeedStorage] = field(default_factory=list)
    templates: list[SeedTemplate] = field(default_factory=list)
    access_keys: list[tuple[str, str]] = field(default_factory=list)


def load(path: Path) -> Seed:
    """Read and check the whole file before anything is written."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"seed file {path}: cannot be read ({exc.strerror})") from None
    document = _parse(path, text)
    if not isinstance(document, dict):
        raise SeedError(f"seed file {path}: must be an object with {', '.join(SECTIONS)}")
    unknown = sorted(set(document) - set(SECTIONS))
    if unknown:
        raise SeedError(f"seed file {path}: unknown section {unknown[0]!r}; use {SECTIONS}")
    rows = {name: _rows(path, document, name) for name in SECTIONS}
    return Seed(
        path=path,
        storages=[_storage(path, i, row) for i, row in enumerate(rows["storages"])],
        templates=[_template(path, i, row) for i, row in enumerate(rows["templates"])],
        access_keys=[_key(path, i, row) for i, row in enumerate(rows["access_keys"])],
    )


def apply(
    seed: Seed,
    *,
    session: Session,
    now: float,
    prepare_bucket: Callable[[str], None] | None = None,
    max_pixel_rate: int | None = None,
) -> None:
    """Create what is missing, keep what is equal, refuse what conflicts (SeedError)."""
    for s in seed.storages:
        _apply_storage(seed.path, s, session=session, now=now, prepare_bucket=prepare_bucket)
    for t in seed.templates:
        _apply_template(seed.path, t, session=session, now=now, max_pixel_rate=max_pixel_rate)
    for key_id, secret in seed.access_keys:
        existing = session.get(AccessKey, key_id)
        if existing is None:
            keys.create(session=session, access_key_id=key_id, access_key_secret=secret)
        elif existing.access_key_secret != secret:
            raise SeedError(
                f"seed file {seed.path}: access key {key_id!r} exists with another secret"
            )


def _apply_storage(
    path: Path,
    s: SeedStorage,
    *,
    session: Session,
    now: float,
    prepare_bucket: Callable[[str], None] | None,
) -> None:
    existing = session.get(Storage, s.storage_id)
    if existing is None:
        try:
            storages.add(
                session=session,
                storage_id=s.storage_id,
                **s.columns,
                extra=s.extra,
                now=now,
                prepare_bucket=prepare_bucket,
            )
        except ApiError as error:
            raise SeedError(f"seed file {path}: storage {s.storage_id}: {error.detail}") from None
        return
    differs = _differences(existing, s.columns) + _differences_in(existing.extra, s.extra)
    if differs:
        raise SeedError(
            f"seed file {path}: storage {s.storage_id} exists with other values ({differs[0]})"
        )
    if prepare_bucket is not None:  # a reset of the objects took its bucket
        prepare_bucket(existing.bucket)


def _apply_template(
    path: Path, t: SeedTemplate, *, session: Session, now: float, max_pixel_rate: int | None
) -> None:
    try:
        existing: Template | None = templates.get(session=session, name=t.name)
    except ApiError:
        existing = None
    if existing is None:
        try:
            templates.add(
                session=session,
                name=t.name,
                fields=t.columns,
                extra=t.extra,
                now=now,
                max_pixel_rate=max_pixel_rate,
            )
        except ApiError as error:  # the API's own limits (EMULATOR_MAX_PIXEL_RATE)
            raise SeedError(f"seed file {path}: template {t.name!r}: {error.detail}") from None
        return
    if existing.template_type == templates.BUILT_IN:
        raise SeedError(f"seed file {path}: template {t.name!r} is a built-in template")
    expected = {**templates.DEFAULTS, **t.columns}
    differs = _differences(existing, expected) + _differences_in(existing.extra, t.extra)
    if differs:
        raise SeedError(f"seed file {path}: template {t.name!r} exists with other values "
                        f"({differs[0]})")  # fmt: skip


def _differences(row: Any, values: Mapping[str, Any]) -> list[str]:
    return [
        f"{name}: {getattr(row, name)!r}, the seed says {value!r}"
        for name, value in values.items()
        if getattr(row, name) != value
    ]


def _differences_in(stored: Mapping[str, Any], values: Mapping[str, Any]) -> list[str]:
    return [
        f"{name}: {stored.get(name)!r}, the seed says {value!r}"
        for name, value in values.items()
        if stored.get(name) != value
    ]


def _parse(path: Path, text: str) -> Any:
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SeedError(f"seed file {path}: not YAML ({_one_line(str(exc))})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeedError(f"seed file {path}: not JSON ({exc.msg} at line {exc.lineno})") from None


def _rows(path: Path, document: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    rows = document.get(name) or []
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise SeedError(f"seed file {path}: {name} must be a list of objects")
    return rows


def _checked(path: Path, where: str, model: Any, raw: dict[str, Any]) -> Any:
    try:
        return validate(model, normalize(raw))
    except ApiError as error:
        raise SeedError(f"seed file {path}: {where}.{error.detail}") from None


def _storage(path: Path, index: int, row: dict[str, Any]) -> SeedStorage:
    where = f"storages[{index}]"
    storage_id = row.pop("storage_id", None)
    if not isinstance(storage_id, str) or not _STORAGE_ID.fullmatch(storage_id):
        raise SeedError(
            f"seed file {path}: {where}.storage_id: required, 1-64 letters, digits, '-' or '_'"
        )
    p = _checked(path, where, AddStorage, row)
    return SeedStorage(storage_id=storage_id, columns=p.columns(), extra=p.extras())


def _template(path: Path, index: int, row: dict[str, Any]) -> SeedTemplate:
    p = _checked(path, f"templates[{index}]", AddTemplate, row)
    columns, extra = templates.split_fields(p.given())
    return SeedTemplate(name=p.template_name, columns=columns, extra=extra)


def _key(path: Path, index: int, row: dict[str, Any]) -> tuple[str, str]:
    key_id, secret = row.get("access_key_id"), row.get("access_key_secret")
    if set(row) != {"access_key_id", "access_key_secret"} or not (
        isinstance(key_id, str) and isinstance(secret, str)
    ):
        raise SeedError(
            f"seed file {path}: access_keys[{index}] needs access_key_id and access_key_secret"
        )
    try:
        keys.check_pair(key_id, secret)
    except ApiError as error:
        raise SeedError(f"seed file {path}: access_keys[{index}].{error.detail}") from None
    return key_id, secret


def _one_line(text: str) -> str:
    return " ".join(text.split())
