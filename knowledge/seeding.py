"""The knowledge base's first entries: the seed (knowledge/seed/) adds the entries a database lacks, and never
touches what staff have edited."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.bootstrap import Database, open_database
from core.settings import Settings
from knowledge.schema import SEED_DIR, load_dir
from knowledge.store import KnowledgeBase

log = logging.getLogger(__name__)


async def seed(database: Database) -> int:
    """Adds the seed's entries missing from the knowledge base; how many were added."""
    written = await KnowledgeBase(database.sessions).add_missing(load_dir(SEED_DIR))
    if written:
        log.info("seeded the knowledge base with %d new entries", written)
    return written


async def open_seeded(settings: Settings) -> Database:
    """The database, with the knowledge base seeded where it is empty (or lacks seed entries)."""
    database = await open_database(settings)
    await seed(database)
    return database


@asynccontextmanager
async def knowledge_base(settings: Settings) -> AsyncIterator[KnowledgeBase]:
    """The knowledge base for a short task (training, validation, a CLI command), closed afterwards."""
    database = await open_seeded(settings)
    try:
        yield KnowledgeBase(database.sessions)
    finally:
        await database.close()
