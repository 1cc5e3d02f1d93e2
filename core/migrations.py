"""Schema migrations (Alembic), applied by every process as it opens the database.

Upgrading a database that is already at head is a cheap no-op; on PostgreSQL the migration holds an
advisory lock, so replicas starting together never race to alter the same schema.
"""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config

from core.settings import PROJECT_ROOT, Settings


def alembic_config(settings: Settings) -> Config:
    """Alembic's configuration for our database; data migrations find `settings` in its attributes (the
    data-at-rest revision needs the keys)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    config.attributes["settings"] = settings
    return config


async def upgrade(settings: Settings) -> None:
    config = alembic_config(settings)
    # Alembic's env runs its own event loop; give it a thread of its own.
    await asyncio.to_thread(command.upgrade, config, "head")
