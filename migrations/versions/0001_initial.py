"""Initial schema: access keys, storages, templates (with the built-ins), tasks, kv.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Built-in templates exactly as the reference's list_template example shows them, plus
# MP4_264_360p from its query_task example (SPEC.md section 4). Sat, 08 Feb 2020 16:32:42 GMT.
BUILTIN_CREATE_TIME = 1581179562.0
BUILTINS = [
    ("builtin-480p", "480p", "mp4,480p", 25, "480p"),
    ("builtin-720p", "720p", "mp4,720p", 25, "720p"),
    ("builtin-1080p", "1080p", "mp4,1080p", 30, "1080p"),
    ("builtin-origin", "origin", "mp4,origin", 0, ""),
    ("builtin-MP4-264-360p", "MP4_264_360p", "mp4,h264,360p", 25, "360p"),
]


def upgrade() -> None:
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(16), primary_key=True),
        sa.Column("access_key_secret", sa.String(32), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("configured", sa.Boolean, nullable=False),
    )
    op.create_table(
        "storages",
        sa.Column("storage_id", sa.String(16), primary_key=True),
        sa.Column("type", sa.String, nullable=False),
        sa.Column("region", sa.String, nullable=False),
        sa.Column("bucket", sa.String, nullable=False),
        sa.Column("prefix", sa.String, nullable=False),
        sa.Column("storage_ak", sa.String, nullable=False),
        sa.Column("storage_sk", sa.String, nullable=False),
        sa.Column("notify", sa.String, nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.Column("created_time", sa.Float, nullable=False),
    )
    templates = op.create_table(
        "templates",
        sa.Column("template_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("template_type", sa.String, nullable=False),
        sa.Column("description", sa.String, nullable=False),
        sa.Column("format", sa.String, nullable=False),
        sa.Column("quality", sa.Float, nullable=False),
        sa.Column("framerate", sa.Integer, nullable=False),
        sa.Column("resolution", sa.String, nullable=False),
        sa.Column("vcodec", sa.String, nullable=False),
        sa.Column("acodec", sa.String, nullable=False),
        sa.Column("audio_bitrate", sa.Integer, nullable=False),
        sa.Column("logo_path", sa.String, nullable=False),
        sa.Column("logo_size", sa.String, nullable=False),
        sa.Column("logo_offset", sa.String, nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.Column("create_time", sa.Float, nullable=False),
    )
    op.create_table(
        "tasks",
        sa.Column("task_id", sa.String(32), primary_key=True),
        sa.Column("template_name", sa.String, nullable=False),
        sa.Column("template_id", sa.String, nullable=False),
        sa.Column("template", sa.JSON, nullable=False),
        sa.Column("storage_id", sa.String, nullable=False),
        sa.Column("storage", sa.JSON, nullable=False),
        sa.Column("input", sa.String, nullable=False),
        sa.Column("output", sa.String, nullable=False),
        sa.Column("objkey", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False, index=True),
        sa.Column("create_time", sa.Float, nullable=False, index=True),
        sa.Column("finish_time", sa.Float, nullable=True),
        sa.Column("stage_times", sa.JSON, nullable=False),
        sa.Column("err_code", sa.Integer, nullable=False),
        sa.Column("err_msg", sa.String, nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("src_bitrate", sa.Float, nullable=False),
        sa.Column("dst_bitrate", sa.Float, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("output_keys", sa.JSON, nullable=False),
        sa.Column("media", sa.JSON, nullable=False),
        sa.Column("ffmpeg_command", sa.String, nullable=False),
        sa.Column("stderr_tail", sa.String, nullable=False),
        sa.Column("worker_id", sa.String, nullable=True),
        sa.Column("heartbeat_at", sa.Float, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, index=True),
    )
    op.create_table(
        "kv",
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("value", sa.JSON, nullable=True),
    )
    op.bulk_insert(
        templates,
        [
            {
                "template_id": template_id,
                "name": name,
                "template_type": "built-in",
                "description": description,
                "format": "mp4",
                "quality": 5,
                "framerate": framerate,
                "resolution": resolution,
                "vcodec": "h264",
                "acodec": "aac",
                "audio_bitrate": 64000,
                "logo_path": "",
                "logo_size": "",
                "logo_offset": "",
                "extra": {},
                # Sub-second steps keep the reference's order in list_template.
                "create_time": BUILTIN_CREATE_TIME + index / 1000,
            }
            for index, (template_id, name, description, framerate, resolution) in enumerate(
                BUILTINS
            )
        ],
    )


def downgrade() -> None:
    for table in ("kv", "tasks", "templates", "storages", "access_keys"):
        op.drop_table(table)
