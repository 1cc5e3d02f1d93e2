"""What the actions share in one action-server process: settings, the database, the knowledge base.

rasa-sdk builds actions without arguments, so they ask this provider; it opens everything once, lazily,
on the server's event loop. Tests call `configure()` to inject their own settings.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from rasa_sdk import Tracker

from actions.vault import Vault
from cases.client import CaseApiClient
from cases.lockout import Lockout
from cases.subscriptions import Subscriptions
from core.bootstrap import Database, open_database
from core.coordination import coordination_from
from core.data_key import sealer
from core.i18n import normalize_language
from core.secret_key import secret_key
from core.settings import Settings
from knowledge.conversation import LiveLabels
from knowledge.search import KnowledgeSearch
from knowledge.store import KnowledgeBase
from knowledge.unanswered import UnansweredLog


@dataclass
class Resources:
    settings: Settings
    database: Database
    kb: KnowledgeBase
    search: KnowledgeSearch
    labels: LiveLabels
    unanswered: UnansweredLog
    cases: CaseApiClient
    lockout: Lockout
    vault: Vault
    subscriptions: Subscriptions


_settings: Settings | None = None
_resources: Resources | None = None
_lock = asyncio.Lock()


def configure(settings: Settings) -> None:
    global _settings, _resources
    _settings, _resources = settings, None


async def resources() -> Resources:
    global _resources
    if _resources is None:
        async with _lock:
            if _resources is None:
                settings = _settings or Settings()
                database = await open_database(settings)
                kb = KnowledgeBase(database.sessions)
                cases = CaseApiClient.from_settings(settings)
                _resources = Resources(
                    settings,
                    database,
                    kb,
                    KnowledgeSearch(kb),
                    LiveLabels(kb),
                    UnansweredLog(database.sessions),
                    cases,
                    Lockout(database.sessions, secret_key(settings)),
                    Vault(coordination_from(settings)),
                    Subscriptions(database.sessions, sealer(settings)),
                )
    return _resources


def language_of(tracker: Tracker, default: str) -> str:
    """The language the gateway decided for this message (sent as metadata)."""
    metadata = tracker.latest_message.get("metadata") or {}
    return normalize_language(metadata.get("language"), default)
