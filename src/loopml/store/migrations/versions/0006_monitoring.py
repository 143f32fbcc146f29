"""Monitoring: stored reports, alerts, policies, retrains and cached references.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "monitor_reports",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("labelled", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("reference", sa.String(length=256), nullable=False),
        sa.Column("dataset_drift", sa.Boolean(), nullable=False),
        sa.Column("drift_share", sa.Float(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.Column("html_blob", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["blob"], ["blobs.hash"], name=op.f("fk_monitor_reports_blob_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["html_blob"], ["blobs.hash"], name=op.f("fk_monitor_reports_html_blob_blobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_reports")),
    )
    op.create_index(
        op.f("ix_monitor_reports_deployment_created_at"),
        "monitor_reports",
        ["deployment", "created_at"],
        unique=False,
    )
    op.create_table(
        "monitor_alerts",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(length=256), nullable=False),
        sa.Column("report_id", _ROW_ID, nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.String(length=256), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivery_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["monitor_reports.id"],
            name=op.f("fk_monitor_alerts_report_id_monitor_reports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_alerts")),
    )
    op.create_index(
        op.f("ix_monitor_alerts_deployment_created_at"),
        "monitor_alerts",
        ["deployment", "created_at"],
        unique=False,
    )
    op.create_table(
        "monitor_policies",
        sa.Column("deployment", sa.String(length=256), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("last_scheduled", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("deployment", name=op.f("pk_monitor_policies")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "monitor_retrains",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(length=256), nullable=False),
        sa.Column("trigger", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("pipeline_run", sa.String(length=32), nullable=True),
        sa.Column("candidate", sa.String(length=256), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_retrains")),
    )
    op.create_index(
        op.f("ix_monitor_retrains_deployment_started_at"),
        "monitor_retrains",
        ["deployment", "started_at"],
        unique=False,
    )
    op.create_table(
        "monitor_references",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("dataset", sa.String(length=256), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blob"], ["blobs.hash"], name=op.f("fk_monitor_references_blob_blobs")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_monitor_references")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("monitor_references")
    op.drop_index(op.f("ix_monitor_retrains_deployment_started_at"), table_name="monitor_retrains")
    op.drop_table("monitor_retrains")
    op.drop_table("monitor_policies")
    op.drop_index(op.f("ix_monitor_alerts_deployment_created_at"), table_name="monitor_alerts")
    op.drop_table("monitor_alerts")
    op.drop_index(op.f("ix_monitor_reports_deployment_created_at"), table_name="monitor_reports")
    op.drop_table("monitor_reports")
