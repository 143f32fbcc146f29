"""Registry: model version format columns, alias history, evaluations and promotions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 23:56:37.068948
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_alias_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("alias", sa.String(length=256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("previous_version", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("undone_by", sa.BigInteger(), nullable=True),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["name"],
            ["registered_models.name"],
            name=op.f("fk_model_alias_history_name_registered_models"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_alias_history")),
    )
    with op.batch_alter_table("model_alias_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_alias_history_name_alias_id"),
            ["name", "alias", "id"],
            unique=False,
        )

    op.create_table(
        "model_evaluations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data_ref", sa.String(length=256), nullable=True),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("task", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("result_blob", sa.String(length=64), nullable=False),
        sa.Column("report_blob", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
            name=op.f("fk_model_evaluations_name_model_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["report_blob"], ["blobs.hash"], name=op.f("fk_model_evaluations_report_blob_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["result_blob"], ["blobs.hash"], name=op.f("fk_model_evaluations_result_blob_blobs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_evaluations")),
    )
    with op.batch_alter_table("model_evaluations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_evaluations_name_version"), ["name", "version"], unique=False
        )

    op.create_table(
        "model_promotions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gates", sa.Text(), nullable=False),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("data_ref", sa.String(length=256), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=256), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_by", sa.String(length=256), nullable=True),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["name", "version"],
            ["model_versions.name", "model_versions.version"],
            name=op.f("fk_model_promotions_name_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_promotions")),
    )
    with op.batch_alter_table("model_promotions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_promotions_name_status"), ["name", "status"], unique=False
        )

    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flavor", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("manifest_blob", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("signature", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("requirements", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("metrics", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("lineage", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("pipeline_run_id", sa.String(length=32), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_model_versions_manifest_blob"), ["manifest_blob"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_model_versions_pipeline_run_id"), ["pipeline_run_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_model_versions_manifest_blob_blobs"),
            "blobs",
            ["manifest_blob"],
            ["hash"],
        )


def downgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_model_versions_manifest_blob_blobs"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_model_versions_pipeline_run_id"))
        batch_op.drop_index(batch_op.f("ix_model_versions_manifest_blob"))
        batch_op.drop_column("pipeline_run_id")
        batch_op.drop_column("lineage")
        batch_op.drop_column("metrics")
        batch_op.drop_column("requirements")
        batch_op.drop_column("signature")
        batch_op.drop_column("manifest_blob")
        batch_op.drop_column("flavor")

    with op.batch_alter_table("model_promotions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_promotions_name_status"))

    op.drop_table("model_promotions")
    with op.batch_alter_table("model_evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_evaluations_name_version"))

    op.drop_table("model_evaluations")
    with op.batch_alter_table("model_alias_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_alias_history_name_alias_id"))

    op.drop_table("model_alias_history")
