"""Pipelines: pipeline runs, step runs with cache keys, step artifacts, schedules and ticks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:48:07.336419
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("file", sa.String(length=1024), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("spec", sa.String(length=256), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_schedules_name")),
    )
    op.create_table(
        "schedule_ticks",
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("tick", sa.String(length=128), nullable=False),
        sa.Column("claimed_by", sa.String(length=256), nullable=False),
        sa.Column("claimed_at", sa.BigInteger(), nullable=False),
        sa.Column("pipeline_run_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["schedule_id"], ["schedules.id"], name=op.f("fk_schedule_ticks_schedule_id_schedules")
        ),
        sa.PrimaryKeyConstraint("schedule_id", "tick", name=op.f("pk_schedule_ticks")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "pipeline_runs",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("pipeline", sa.String(length=256), nullable=False),
        sa.Column("file", sa.String(length=1024), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("executor", sa.String(length=64), nullable=False),
        sa.Column("resumed_from", sa.String(length=32), nullable=True),
        sa.Column("reproduced_from", sa.String(length=32), nullable=True),
        sa.Column("manifest", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_pipeline_runs_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_pipeline_runs")),
    )
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pipeline_runs_pipeline_created_at"),
            ["pipeline", "created_at"],
            unique=False,
        )

    op.create_table(
        "step_runs",
        sa.Column("pipeline_run_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("step", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("cache_key", sa.String(length=64), nullable=True),
        sa.Column("key_parts", sa.Text(), nullable=True),
        sa.Column("reused_from", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("outputs", sa.Text(), nullable=True),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("ended_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pipeline_run_id"],
            ["pipeline_runs.run_id"],
            name=op.f("fk_step_runs_pipeline_run_id_pipeline_runs"),
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_step_runs_run_id_runs")),
        sa.PrimaryKeyConstraint("pipeline_run_id", "name", name=op.f("pk_step_runs")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("step_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_step_runs_cache_key"), ["cache_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_step_runs_run_id"), ["run_id"], unique=False)

    op.create_table(
        "step_artifacts",
        sa.Column("pipeline_run_id", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["blob"], ["blobs.hash"], name=op.f("fk_step_artifacts_blob_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_run_id", "step"],
            ["step_runs.pipeline_run_id", "step_runs.name"],
            name=op.f("fk_step_artifacts_pipeline_run_id_step_runs"),
        ),
        sa.PrimaryKeyConstraint(
            "pipeline_run_id", "step", "role", "name", name=op.f("pk_step_artifacts")
        ),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("step_artifacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_step_artifacts_blob"), ["blob"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("step_artifacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_step_artifacts_blob"))

    op.drop_table("step_artifacts")
    with op.batch_alter_table("step_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_step_runs_run_id"))
        batch_op.drop_index(batch_op.f("ix_step_runs_cache_key"))

    op.drop_table("step_runs")
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_runs_pipeline_created_at"))

    op.drop_table("pipeline_runs")
    op.drop_table("schedule_ticks")
    op.drop_table("schedules")
