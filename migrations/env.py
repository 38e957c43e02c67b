"""Alembic environment: the URL comes from the config (set by gateway.migrate) or DATABASE_URL."""

from __future__ import annotations

from alembic import context

from gateway.db import make_engine
from gateway.models import Base
from gateway.settings import Settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url
target_metadata = Base.metadata


def run_offline() -> None:
    context.configure(
        url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=True,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:  # a migration that refuses (0038's downgrade) leaves no pooled connection open
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
