"""Serving: deployments with their revisions, the prediction log's segments, feedback.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 03:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployments")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "deployment_revisions",
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("undone_by", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["name"], ["deployments.name"], name=op.f("fk_deployment_revisions_name_deployments")
        ),
        sa.PrimaryKeyConstraint("name", "revision", name=op.f("pk_deployment_revisions")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "prediction_segments",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(length=256), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("end_time", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blob"], ["blobs.hash"], name=op.f("fk_prediction_segments_blob_blobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_segments")),
    )
    op.create_index(
        op.f("ix_prediction_segments_deployment_end_time"),
        "prediction_segments",
        ["deployment", "end_time"],
        unique=False,
    )
    op.create_table(
        "prediction_feedback",
        sa.Column("deployment", sa.String(length=256), nullable=False),
        sa.Column("prediction_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("prediction_time", sa.BigInteger(), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("deployment", "prediction_id", name=op.f("pk_prediction_feedback")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_prediction_feedback_deployment_prediction_time"),
        "prediction_feedback",
        ["deployment", "prediction_time"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_prediction_feedback_deployment_prediction_time"),
        table_name="prediction_feedback",
    )
    op.drop_table("prediction_feedback")
    op.drop_index(
        op.f("ix_prediction_segments_deployment_end_time"), table_name="prediction_segments"
    )
    op.drop_table("prediction_segments")
    op.drop_table("deployment_revisions")
    op.drop_table("deployments")
