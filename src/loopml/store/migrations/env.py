"""Alembic environment: loopml runs migrations programmatically over a given connection."""

from alembic import context

from loopml.store.migrate import VERSION_TABLE
from loopml.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
