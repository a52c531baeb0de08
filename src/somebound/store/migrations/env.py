"""Alembic environment: the engine is handed over by somebound.store.migrate."""

from alembic import context

import somebound.store.all_tables  # noqa: F401  (registers every table on metadata)
from somebound.store.base import metadata

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
