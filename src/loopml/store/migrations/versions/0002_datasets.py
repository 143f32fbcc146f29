"""Datasets: versions, tags, packed blob parts and the runs that read them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 12:43:50.493133
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("schema_yaml", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datasets")),
        sa.UniqueConstraint("name", name=op.f("uq_datasets_name")),
    )
    op.create_table(
        "blob_parts",
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("pack", sa.String(length=64), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["pack"], ["blobs.hash"], name=op.f("fk_blob_parts_pack_blobs")),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_blob_parts")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("blob_parts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blob_parts_pack"), ["pack"], unique=False)

    op.create_table(
        "dataset_versions",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("blob", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.Column("columns", sa.Text(), nullable=True),
        sa.Column("profile_blob", sa.String(length=64), nullable=True),
        sa.Column("anomalies", sa.Text(), nullable=True),
        sa.Column("parent_version", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=256), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["blob"], ["blobs.hash"], name=op.f("fk_dataset_versions_blob_blobs")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_dataset_versions_dataset_id_datasets")
        ),
        sa.ForeignKeyConstraint(
            ["profile_blob"], ["blobs.hash"], name=op.f("fk_dataset_versions_profile_blob_blobs")
        ),
        sa.PrimaryKeyConstraint("dataset_id", "version", name=op.f("pk_dataset_versions")),
    )
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_versions_content_hash"), ["content_hash"], unique=False
        )

    op.create_table(
        "dataset_tags",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id", "version"],
            ["dataset_versions.dataset_id", "dataset_versions.version"],
            name=op.f("fk_dataset_tags_dataset_id_dataset_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["datasets.id"], name=op.f("fk_dataset_tags_dataset_id_datasets")
        ),
        sa.PrimaryKeyConstraint("dataset_id", "tag", name=op.f("pk_dataset_tags")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "run_inputs",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id", "version"],
            ["dataset_versions.dataset_id", "dataset_versions.version"],
            name=op.f("fk_run_inputs_dataset_id_dataset_versions"),
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_inputs_run_id_runs")),
        sa.PrimaryKeyConstraint("run_id", "dataset_id", "version", name=op.f("pk_run_inputs")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("run_inputs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_run_inputs_dataset_id_version"), ["dataset_id", "version"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("run_inputs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_run_inputs_dataset_id_version"))

    op.drop_table("run_inputs")
    op.drop_table("dataset_tags")
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_versions_content_hash"))

    op.drop_table("dataset_versions")
    with op.batch_alter_table("blob_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blob_parts_pack"))

    op.drop_table("blob_parts")
    op.drop_table("datasets")
